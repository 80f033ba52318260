"""Plumbing shared by the desktop scenarios: waiting with deadlines, free ports, HTTP calls to the
gateway, the app's process and its home.

Nothing here sleeps to make an assertion: every wait polls a condition until a deadline and fails
with what it was waiting for.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


class Failure(Exception):
    """A scenario failed; the message says what was expected."""


def wait_for(what, check, timeout=30.0, interval=0.1):
    """Polls `check` until it returns something truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Failure:
            raise
        except Exception as e:  # the condition is not met yet
            last_error = e
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise Failure(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def expect(condition, message):
    if not condition:
        raise Failure(message)


def require_command(name, install):
    """Fails with the command that installs `name` when it is not on PATH."""
    path = shutil.which(name)
    if not path:
        raise Failure(f"`{name}` is missing; install it with: {install}")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, token=None, body=None, timeout=10.0):
    """One HTTP request; answers (status, parsed JSON or text). Connection errors raise."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def answers(port):
    """Whether the gateway on `port` answers its health check."""
    try:
        status, _ = http("GET", f"http://127.0.0.1:{port}/health", timeout=2.0)
        return status == 200
    except OSError:
        return False


def write_config(home, port, extra=""):
    """A hearth.json on `port` with a known token; `extra` is spliced into the top-level object."""
    os.makedirs(home, mode=0o700, exist_ok=True)
    text = (
        "{\n"
        f'  gateway: {{ port: {port}, auth: {{ mode: "token", token: "{TOKEN}" }},\n'
        '             http: { endpoints: { chatCompletions: { enabled: true } } } },\n'
        f"  {extra}\n"
        "}\n"
    )
    with open(os.path.join(home, "hearth.json"), "w") as f:
        f.write(text)


# The gateway token the scenarios configure (the secret scenario lets the app generate one).
TOKEN = "desktop-test-token-0123456789"


def fake_model_config(base_url):
    """Config text for a provider served by the test's FakeOpenAi, default for every agent."""
    return (
        'agents: { defaults: { model: { primary: "fake/fake-model" } } },\n'
        '  models: { providers: { fake: {\n'
        f'    baseUrl: "{base_url}", apiKey: "sk-fake", api: "openai-completions",\n'
        '    models: [ { id: "fake-model", name: "Fake", contextWindow: 128000, maxTokens: 4096 } ] } } },'
    )


class App:
    """The desktop binary, started directly, its output in a log file."""

    def __init__(self, binary, env, log_path, args=()):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [binary, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def exited(self):
        return self.process.poll() is not None

    def wait_exit(self, what, timeout):
        wait_for(what, self.exited, timeout=timeout)
        return self.process.returncode

    def terminate(self):
        if not self.exited():
            self.process.send_signal(signal.SIGTERM)

    def kill(self):
        if not self.exited():
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()

    def tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""
