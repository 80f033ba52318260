#!/usr/bin/python3
"""Runs one desktop scenario of the Hearth tray app for real: a virtual X display (Xvfb), a private
session bus (dbus-run-session), a fresh home, and the real services a desktop provides.

    run.py SCENARIO --app PATH [--fake-openai URL] [--artifacts DIR]

Scenarios (each exits 0 when it passed, 1 with the reason otherwise):
  window        the window shows the Control UI, checked through WebDriver (tauri-driver +
                WebKitWebDriver), and a screenshot is saved
  tray          the tray item registers with a StatusNotifierWatcher; its exported menu has the
                expected items; Stop/Start gateway stop and start the gateway; Pause all
                channels pauses and resumes them (`channels.status` over the WebSocket) and its
                check mark follows pauses made elsewhere; Launch at login adds and removes the
                autostart entry; the recent sessions follow a new session; Quit exits 0
  notification  an exec approval raises a notification with Allow once / Deny; clicking Allow
                once lets the command run (needs --fake-openai, scripted by the Rust test); a
                stranger writing to a Telegram bot (a fake Bot API in this script) raises a
                pairing notification whose Approve approves them, and a bot whose token is
                refused raises a "channel down" notification
  secret        with no display the binary runs headless; the gateway token it generates is
                stored in the Secret Service (gnome-keyring), readable there, accepted by the
                gateway, and read back by the next start

The outer process starts Xvfb and runs itself again inside dbus-run-session (--inside), where it
starts the fake desktop services (fake_services.py) and the scenario.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# No __pycache__ in the source tree.
sys.dont_write_bytecode = True

from harness import (  # noqa: E402
    TOKEN,
    App,
    Failure,
    answers,
    expect,
    fake_model_config,
    free_port,
    http,
    require_command,
    wait_for,
    write_config,
)

SCENARIOS = ("window", "tray", "notification", "secret")
APT = "sudo apt-get install -y"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--app", required=True, help="the hearth-desktop binary")
    parser.add_argument("--fake-openai", help="base URL of the scripted fake model")
    parser.add_argument("--artifacts", default=os.path.join(os.getcwd(), "target", "artifacts", "desktop"))
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        if args.inside:
            inside(args)
        else:
            outside(args)
    except Failure as e:
        print(f"FAILED [{args.scenario}]: {e}", file=sys.stderr, flush=True)
        return 1
    if not args.inside:
        print(f"passed [{args.scenario}]", flush=True)
    return 0


# ------------------------------------------------------------------------------------------------
# outside: the display, the home, the session bus


def outside(args):
    require_command("Xvfb", f"{APT} xvfb xauth")
    require_command("xdpyinfo", f"{APT} x11-utils")
    require_command("dbus-run-session", f"{APT} dbus dbus-x11")
    if args.scenario == "secret":
        require_command("gnome-keyring-daemon", f"{APT} gnome-keyring")
    if args.scenario == "window":
        require_command("tauri-driver", "cargo install tauri-driver --locked --version 2.1.0")
        require_command("WebKitWebDriver", f"{APT} webkit2gtk-driver")
    try:
        import dbus  # noqa: F401
        from gi.repository import GLib  # noqa: F401
    except ImportError as e:
        raise Failure(f"Python's D-Bus bindings are missing ({e}); install them with: {APT} python3-dbus python3-gi")
    if not os.access(args.app, os.X_OK):
        raise Failure(f"{args.app} is not an executable; build it with `cargo build -p hearth-desktop`")
    if args.scenario in ("window", "notification") and not args.fake_openai:
        raise Failure(f"the {args.scenario} scenario needs --fake-openai (the Rust test passes its FakeOpenAi)")
    os.makedirs(args.artifacts, exist_ok=True)

    tmp = tempfile.mkdtemp(prefix=f"hearth-desktop-{args.scenario}-")
    env = scenario_env(tmp)
    xvfb, display = start_xvfb()
    env["DISPLAY"] = f":{display}"
    ok = False
    try:
        wait_for(
            f"the virtual display :{display}",
            lambda: subprocess.run(["xdpyinfo"], env=env, capture_output=True).returncode == 0,
            timeout=20,
        )
        cmd = ["dbus-run-session", "--", sys.executable, os.path.abspath(__file__), "--inside", args.scenario,
               "--app", os.path.abspath(args.app), "--artifacts", os.path.abspath(args.artifacts),
               "--timeout", str(args.timeout)]
        if args.fake_openai:
            cmd += ["--fake-openai", args.fake_openai]
        try:
            done = subprocess.run(cmd, env=env, timeout=args.timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise Failure(f"the scenario did not finish within {args.timeout:.0f} s")
        if done.returncode != 0:
            raise Failure(f"the scenario failed (exit {done.returncode}); logs are in {args.artifacts}")
        ok = True
    finally:
        xvfb.terminate()
        try:
            xvfb.wait(timeout=10)
        except subprocess.TimeoutExpired:
            xvfb.kill()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept the scenario's home for inspection: {tmp}", file=sys.stderr)


def scenario_env(tmp):
    """A fresh home: nothing of the real user's desktop, config, keyring or Hearth state."""
    home = os.path.join(tmp, "home")
    runtime = os.path.join(tmp, "run")
    for d in (home, runtime):
        os.makedirs(d, mode=0o700)
    keep = ("PATH", "LANG", "LC_ALL", "TERM", "RUST_BACKTRACE", "HEARTH_LOG", "CARGO_HOME", "RUSTUP_HOME")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({
        "HOME": home,
        "HEARTH_HOME": os.path.join(home, ".hearth"),
        # auto-launch writes $HOME/.config/autostart whatever XDG_CONFIG_HOME says: keep them equal.
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "XDG_RUNTIME_DIR": runtime,
        "NO_AT_BRIDGE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def start_xvfb():
    """Xvfb on the first free display (it picks one and reports it on -displayfd)."""
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    number = b""
    with os.fdopen(read_end, "rb") as pipe:
        deadline = time.monotonic() + 20
        while not number.endswith(b"\n"):
            if time.monotonic() > deadline or xvfb.poll() is not None:
                xvfb.kill()
                raise Failure("Xvfb did not start")
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        xvfb.kill()
        raise Failure("Xvfb did not report its display")
    return xvfb, int(number.strip())


# ------------------------------------------------------------------------------------------------
# inside the session bus


class Context:
    def __init__(self, args):
        self.app = args.app
        self.fake_openai = args.fake_openai
        self.artifacts = args.artifacts
        self.env = dict(os.environ)
        self.home = self.env["HOME"]
        self.hearth_home = self.env["HEARTH_HOME"]
        self.scenario = args.scenario

    def log(self, name):
        return os.path.join(self.artifacts, f"{self.scenario}-{name}.log")


def inside(args):
    import dbus_clients

    ctx = Context(args)
    services = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "fake_services.py")],
        env=ctx.env,
        stdout=subprocess.DEVNULL,
        stderr=open(ctx.log("services"), "wb"),
    )
    keyring = None
    try:
        wait_for("the fake tray watcher and notification daemon", lambda: (
            dbus_clients.has_owner("org.kde.StatusNotifierWatcher")
            and dbus_clients.has_owner("org.freedesktop.Notifications")), timeout=20)
        if ctx.scenario == "secret":
            keyring = start_keyring(ctx)
        {
            "window": scenario_window,
            "tray": scenario_tray,
            "notification": scenario_notification,
            "secret": scenario_secret,
        }[ctx.scenario](ctx)
    finally:
        for p in (keyring, services):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


def start_keyring(ctx):
    """gnome-keyring's Secret Service, unlocked (a newline on stdin: an empty password; with no
    input at all it creates no keyring)."""
    import dbus_clients

    keyring = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        env=ctx.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=open(ctx.log("keyring"), "wb"),
    )
    keyring.stdin.write(b"\n")
    keyring.stdin.close()
    wait_for("gnome-keyring's Secret Service on the bus", lambda: dbus_clients.has_owner("org.freedesktop.secrets"), timeout=20)
    return keyring


def start_app(ctx, name="app", args=(), env=None):
    return App(ctx.app, env or ctx.env, ctx.log(name), args)


def wait_for_entry(menu, label_prefix, what, timeout=10):
    """Waits until the tray menu has an entry starting with `label_prefix`; the failure lists the
    menu as it was."""
    try:
        return wait_for(what, lambda: menu.find(label_prefix), timeout=timeout)
    except Failure as e:
        labels = [f"{e['label']} (id {e['id']})" for e in menu.entries()]
        raise Failure(f"{e}; the menu has {labels}")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def fail_with_log(app, message):
    raise Failure(f"{message}\n--- the app's output (last lines) ---\n{app.tail()}")


def gateway_calls(port, calls, timeout=10.0):
    """Connects to the gateway's WebSocket with the token, as the CLI does, makes the calls given
    as [(method, params), ...] in order, and answers their payloads (a refusal fails)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        ws = _WebSocket(sock, port)
        results = []
        next_id = 0
        while True:
            frame = json.loads(ws.recv())
            if frame.get("type") == "event" and frame.get("event") == "connect.challenge":
                ws.send({"type": "req", "id": "connect", "method": "connect", "params": {
                    "minProtocol": 1, "maxProtocol": 1,
                    "client": {"id": "desktop-test", "version": "0.1", "platform": "linux", "mode": "cli"},
                    "auth": {"token": TOKEN}}})
            elif frame.get("type") == "res":
                expect(frame.get("ok"), f"the gateway refused {frame.get('id')}: {frame.get('error')}")
                if frame["id"] != "connect":
                    results.append(frame.get("payload"))
                    next_id += 1
                if next_id == len(calls):
                    return results
                method, params = calls[next_id]
                ws.send({"type": "req", "id": str(next_id), "method": method, "params": params})


class _WebSocket:
    """Just enough of RFC 6455 for JSON text frames on loopback (the system Python has no
    WebSocket module)."""

    def __init__(self, sock, port):
        self.sock = sock
        self.reader = sock.makefile("rb")
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        status = self.reader.readline()
        expect(b" 101 " in status, f"the gateway did not upgrade to a WebSocket: {status!r}")
        while self.reader.readline() not in (b"\r\n", b""):
            pass

    def send(self, value, opcode=0x1):
        data = json.dumps(value).encode() if opcode == 0x1 else value
        mask = os.urandom(4)
        if len(data) < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | len(data))
        elif len(data) < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, len(data))
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, len(data))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        """The next text message (pings are answered, fragments joined)."""
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            payload = self._read(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise Failure("the gateway closed the WebSocket")
            if opcode == 0x9:
                self.send(payload, opcode=0xA)
                continue
            if opcode in (0x0, 0x1):
                message += payload
                if first & 0x80:
                    return message.decode()

    def _read(self, n):
        data = self.reader.read(n)
        expect(data is not None and len(data) == n, "the gateway closed the WebSocket")
        return data


def channels_paused(port):
    return gateway_calls(port, [("channels.status", {})])[0]["paused"]


class FakeTelegram:
    """A Telegram Bot API for the gateway's Telegram channel: one token works, others are refused
    (401); `getUpdates` hands over the queued messages, then answers empty after a short wait."""

    TOKEN = "123456:desktop-test"

    def __init__(self):
        self.lock = threading.Lock()
        self.updates = []
        self.sent = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                _, token, method = (self.path.split("/", 2) + ["", ""])[:3]
                if token != "bot" + FakeTelegram.TOKEN:
                    self.answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                else:
                    self.answer(200, {"ok": True, "result": fake.call(method, body)})

            def answer(self, status, value):
                data = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def write(self, user_id, first_name, last_name, text):
        """A private message to the bot, as a person would send it."""
        with self.lock:
            self.updates.append({"update_id": len(self.updates) + 1, "message": {
                "message_id": len(self.updates) + 1, "date": int(time.time()), "text": text,
                "from": {"id": user_id, "is_bot": False, "first_name": first_name, "last_name": last_name},
                "chat": {"id": user_id, "type": "private", "first_name": first_name}}})

    def call(self, method, body):
        if method == "getMe":
            return {"id": 1, "is_bot": True, "first_name": "Hearth", "username": "hearth_test_bot"}
        if method == "getUpdates":
            offset = body.get("offset") or 0
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline:
                with self.lock:
                    waiting = [u for u in self.updates if u["update_id"] >= offset]
                if waiting:
                    return waiting
                time.sleep(0.05)
            return []
        if method in ("sendMessage", "editMessageText"):
            with self.lock:
                self.sent.append(body)
                return {"message_id": 1000 + len(self.sent), "date": int(time.time()),
                        "chat": {"id": body.get("chat_id"), "type": "private"}, "text": body.get("text", "")}
        return True

    def texts(self):
        with self.lock:
            return [str(m.get("text", "")) for m in self.sent]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------------
# scenarios


def scenario_window(ctx):
    """The window shows the Control UI (WebDriver), and a screenshot of it is saved."""
    from webdriver import WebDriver

    port = free_port()
    write_config(ctx.hearth_home, port, fake_model_config(ctx.fake_openai))
    driver_port, native_port = free_port(), free_port()
    driver_log = open(ctx.log("tauri-driver"), "wb")
    driver = subprocess.Popen(
        ["tauri-driver", "--port", str(driver_port), "--native-port", str(native_port)],
        env=ctx.env, stdout=driver_log, stderr=subprocess.STDOUT,
    )
    wd = WebDriver(driver_port)
    app_pid = None
    try:
        # Readiness asked of WebKitWebDriver itself, so the session request is tauri-driver's
        # first forwarded request (see WebDriver._call).
        wait_for("WebKitWebDriver to be ready", lambda: http("GET", f"http://127.0.0.1:{native_port}/status")[0] == 200, timeout=20)
        wait_for("tauri-driver to listen", lambda: port_open(driver_port), timeout=20)
        wd.start(ctx.app)
        origin = f"http://127.0.0.1:{port}"
        wait_for("the window to leave the splash page for the Control UI", lambda: wd.url().startswith(origin + "/"), timeout=60)
        app_pid = wait_for("the app's process", lambda: find_app_pid(ctx), timeout=10)
        wait_for("the Control UI page to finish loading", lambda: wd.script("return document.readyState") == "complete", timeout=30)
        wait_for("the Control UI to connect to the gateway", lambda: wd.script(CONNECTED), timeout=60)
        title = wd.title()
        expect("Hearth" in title and "Starting" not in title, f"unexpected window title {title!r}")
        # The window opened the URL with the token: the UI took it from the fragment and keeps it.
        stored = wd.script("return sessionStorage.getItem('hearth.token')")
        expect(stored == TOKEN, f"the Control UI did not receive the gateway token (it holds {stored!r})")
        expect("token=" not in wd.url(), "the token was left in the address")
        expect(wd.painted() is True, "the page did not paint")
        png = wd.screenshot()
        expect(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000, "the screenshot is not a PNG image")
        path = os.path.join(ctx.artifacts, "window.png")
        with open(path, "wb") as f:
            f.write(png)
        print(f"screenshot: {path}", flush=True)

        # The Control UI's wizard toggles launch at login through the gateway's `desktop.*`
        # methods, which call the shell's hooks: the same calls, from the page.
        from dbus_clients import TrayMenu

        menu = wait_for("the tray item", TrayMenu.registered, timeout=30)
        autostart_dir = os.path.join(ctx.home, ".config", "autostart")
        entries = lambda: [f for f in os.listdir(autostart_dir) if f.endswith(".desktop")] if os.path.isdir(autostart_dir) else []
        got = wd.script_async(GATEWAY_CALLS, TOKEN, [["desktop.get", {}]])
        expect(got == [{"available": True, "autostart": False}], f"unexpected desktop.get answer {got}")
        got = wd.script_async(GATEWAY_CALLS, TOKEN, [["desktop.autostart.set", {"enabled": True}], ["desktop.get", {}]])
        expect(got == [{"autostart": True}, {"available": True, "autostart": True}], f"unexpected answers {got}")
        expect(len(entries()) == 1, f"desktop.autostart.set made no autostart entry: {entries()}")
        wait_for("the tray's checkbox to follow", lambda: menu.find("Launch at login")["toggle"] == 1, timeout=10)
        got = wd.script_async(GATEWAY_CALLS, TOKEN, [["desktop.autostart.set", {"enabled": False}]])
        expect(got == [{"autostart": False}] and entries() == [], f"launch at login was not turned off: {got} {entries()}")

        # A recent session from the tray opens its chat in the window.
        status, body = http("POST", f"{origin}/v1/chat/completions", token=TOKEN, timeout=60, body={
            "model": "hearth", "user": "window-test", "messages": [{"role": "user", "content": "hello"}]})
        expect(status == 200, f"chat completion failed: {status} {body}")
        wait_for_entry(menu, "hello", "the session in Recent sessions")
        menu.click("hello")
        wait_for("the window to show the session's chat", lambda: wd.url().endswith("#/chat/agent:main:openai:window-test"), timeout=20)

        # Stopping the gateway shows the bundled "stopped" page; starting it brings the UI back.
        menu.click("Stop gateway")
        wait_for("the window to show the stopped page", lambda: wd.url().split("#")[0].endswith("/stopped.html"), timeout=30)
        wait_for("the stopped page to load", lambda: wd.title() == "Hearth is stopped", timeout=10)
        menu.click("Start gateway")
        wait_for("the window to show the Control UI again", lambda: wd.url().startswith(origin + "/"), timeout=60)
        wait_for("the Control UI to connect again", lambda: wd.script(CONNECTED), timeout=60)

    finally:
        try:
            wd.quit()
        except Exception as e:  # the session may already be gone; the driver is stopped anyway
            print(f"closing the WebDriver session: {e}", file=sys.stderr)
        driver.terminate()
        try:
            driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            driver.kill()
        driver_log.close()
        if app_pid:
            stop_pid(app_pid)
    wait_for("the gateway to stop with the app", lambda: not answers(port), timeout=10)


# Both the Control UI and the gateway's built-in fallback page say "Connected…" in a status line
# once their WebSocket is authenticated with the token from the URL.
CONNECTED = (
    "return Array.from(document.querySelectorAll('[role=status]'))"
    ".some((e) => /^connected\\b/i.test(e.textContent.trim()))"
)

# WebDriver async script: connects to the page's own gateway with the token, makes the calls
# given as [[method, params], ...] in order, and answers their payloads (or the first error).
GATEWAY_CALLS = """
const [token, calls, done] = arguments;
const ws = new WebSocket("ws://" + location.host + "/");
const results = [];
let next = 0;
const send = (method, params) => ws.send(JSON.stringify({ type: "req", id: String(next), method, params }));
ws.onerror = () => done({ error: "websocket error" });
ws.onmessage = (ev) => {
  const f = JSON.parse(ev.data);
  if (f.type === "event" && f.event === "connect.challenge") {
    ws.send(JSON.stringify({ type: "req", id: "connect", method: "connect", params: {
      minProtocol: 1, maxProtocol: 1,
      client: { id: "desktop-test", version: "0.1", platform: "linux", mode: "ui" }, auth: { token } } }));
  } else if (f.type === "res" && f.id === "connect") {
    if (!f.ok) { ws.close(); done({ error: f.error }); return; }
    send(calls[0][0], calls[0][1]);
  } else if (f.type === "res") {
    if (!f.ok) { ws.close(); done({ error: f.error }); return; }
    results.push(f.payload);
    next += 1;
    if (next < calls.length) { send(calls[next][0], calls[next][1]); } else { ws.close(); done(results); }
  }
};
"""


def find_app_pid(ctx):
    """The pid of this scenario's app (WebKitWebDriver starts it, so the test has no handle)."""
    binary = os.path.realpath(ctx.app)
    marker = f"HEARTH_HOME={ctx.hearth_home}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/exe") != binary:
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    return int(entry)
        except OSError:
            continue
    return None


def stop_pid(pid):
    """Ends the session's app: WebKitWebDriver usually has; otherwise it must quit on SIGTERM."""
    def gone():
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        # A zombie has exited; its (possibly dead) parent has not collected it yet.
        return state == "Z"

    try:
        wait_for("the app to exit when its WebDriver session ended", gone, timeout=10)
        return
    except Failure:
        pass
    os.kill(pid, signal.SIGTERM)
    try:
        wait_for("the app to exit on SIGTERM", gone, timeout=20)
    except Failure:
        os.kill(pid, signal.SIGKILL)
        raise


def scenario_tray(ctx):
    """The tray's exported menu, and what its items do."""
    import x11
    from dbus_clients import TrayMenu

    port = free_port()
    extra = fake_model_config(ctx.fake_openai) if ctx.fake_openai else ""
    write_config(ctx.hearth_home, port, extra)
    # Something else holds the port at first: the gateway cannot start, and the tray says why.
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    app = start_app(ctx)
    try:
        menu = wait_for("the tray item to register with the StatusNotifierWatcher", TrayMenu.registered, timeout=60)
        wait_for_entry(menu, "Hearth's gateway could not run", "the tray to say the gateway could not start", timeout=60)
        expect(menu.find("Start gateway")["enabled"], "Start gateway is not offered after a failed start")
        squatter.close()
        menu.click("Start gateway")
        running = f"Hearth is running on 127.0.0.1:{port}"
        wait_for_entry(menu, running, "the tray to say the gateway runs", timeout=60)
        expect(answers(port), "the tray says running but the gateway does not answer")
        labels = [e["label"] for e in menu.layout() if e["type"] != "separator"]
        expect(labels == [running, "Open Hearth", "Stop gateway", "Recent sessions", "Pause all channels",
                          "Launch at login", "Quit"],
               f"unexpected tray menu {labels}")
        expect(not menu.find(running)["enabled"], "the status line should not be clickable")
        recent = menu.find("Recent sessions")
        expect([c["label"] for c in recent["children"]] == ["No sessions yet"],
               f"unexpected recent sessions {recent['children']}")
        autostart = menu.find("Launch at login")
        expect(autostart["toggle"] == 0, f"launch at login should start unchecked: {autostart}")
        icon_running = str(menu.item_property("IconName"))

        # Pause all channels: the item pauses and resumes the gateway's channels, and its check
        # mark follows a pause made elsewhere (the Control UI, `hearth channels pause`).
        pause = menu.find("Pause all channels")
        expect(pause["toggle"] == 0 and pause["enabled"], f"Pause all channels should start unchecked: {pause}")
        expect(channels_paused(port) is False, "the channels are paused before anyone asked")
        menu.click("Pause all channels")
        wait_for("channels.status to say paused", lambda: channels_paused(port) is True, timeout=10)
        wait_for("the check mark to show the pause", lambda: menu.find("Pause all channels")["toggle"] == 1, timeout=10)
        menu.click("Pause all channels")
        wait_for("channels.status to say resumed", lambda: channels_paused(port) is False, timeout=10)
        wait_for("the check mark to go", lambda: menu.find("Pause all channels")["toggle"] == 0, timeout=10)
        gateway_calls(port, [("channels.pause", {"paused": True})])
        wait_for("the check mark to follow channels.changed", lambda: menu.find("Pause all channels")["toggle"] == 1, timeout=10)

        if ctx.fake_openai:
            # A new session appears under "Recent sessions" (refreshed on sessions.changed).
            status, body = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions", token=TOKEN, timeout=60, body={
                "model": "hearth", "user": "tray-test", "messages": [{"role": "user", "content": "hello"}]})
            expect(status == 200, f"chat completion failed: {status} {body}")
            # Listed by its title: the first message.
            wait_for("the new session in Recent sessions", lambda: [
                c["label"] for c in menu.find("Recent sessions")["children"]] == ["hello"], timeout=10)

        menu.click("Stop gateway")
        wait_for("the gateway port to stop answering", lambda: not answers(port), timeout=30)
        wait_for_entry(menu, "Start gateway", "the tray to offer Start gateway")
        wait_for_entry(menu, "Hearth's gateway is stopped", "the tray to say the gateway is stopped")
        expect(str(menu.item_property("IconName")) != icon_running, "the tray icon did not change when the gateway stopped")
        expect(not app.exited(), "the app exited when the gateway stopped")
        expect(not menu.find("Pause all channels")["enabled"], "Pause all channels is offered with no gateway")

        menu.click("Start gateway")
        wait_for("the gateway port to answer again", lambda: answers(port), timeout=60)
        wait_for_entry(menu, "Stop gateway", "the tray to offer Stop gateway again")
        # A new gateway starts with its channels running, and the item shows that.
        wait_for("Pause all channels to be offered again, unchecked", lambda: (
            menu.find("Pause all channels")["enabled"] and menu.find("Pause all channels")["toggle"] == 0), timeout=10)
        expect(channels_paused(port) is False, "the new gateway's channels are paused")

        # Degraded: an MCP server that fails (added by editing the config: hot reload).
        config_path = os.path.join(ctx.hearth_home, "hearth.json")
        with open(config_path) as f:
            healthy = f.read()
        broken = healthy.rstrip().rstrip("}") + '  mcp: { servers: { broken: { command: "/bin/false" } } },\n}\n'
        with open(config_path, "w") as f:
            f.write(broken)
        wait_for_entry(menu, "Hearth is degraded: MCP server broken failed", "the tray to say the gateway is degraded", timeout=30)
        icon_degraded = str(menu.item_property("IconName"))
        expect(icon_degraded != icon_running, "the tray icon did not change when the gateway became degraded")
        with open(config_path, "w") as f:
            f.write(healthy)
        wait_for_entry(menu, running, "the tray to say the gateway runs normally again", timeout=30)

        # Closing the window keeps Hearth in the tray; "Open Hearth" brings a window back.
        window = wait_for("the app's window", lambda: x11.find_window(ctx.env["DISPLAY"], "Hearth"), timeout=30)
        x11.close_window(ctx.env["DISPLAY"], window)
        wait_for("the window to close", lambda: not x11.find_window(ctx.env["DISPLAY"], "Hearth"), timeout=20)
        expect(not app.exited(), "the app exited when its window was closed")
        expect(answers(port), "the gateway stopped when the window was closed")
        menu.click("Open Hearth")
        wait_for("Open Hearth to show a window again", lambda: x11.find_window(ctx.env["DISPLAY"], "Hearth"), timeout=30)

        # A second launch hands over to the first (which shows its window) and exits.
        second = start_app(ctx, "second-instance")
        try:
            code = second.wait_exit("the second instance to hand over and exit", timeout=30)
        finally:
            second.kill()
        expect(code == 0, f"the second instance exited with {code}")
        expect(not app.exited() and answers(port), "the first instance stopped when a second was launched")

        autostart_dir = os.path.join(ctx.home, ".config", "autostart")
        entries = lambda: [f for f in os.listdir(autostart_dir) if f.endswith(".desktop")] if os.path.isdir(autostart_dir) else []
        expect(entries() == [], f"an autostart entry exists before it was asked for: {entries()}")
        menu.click("Launch at login")
        found = wait_for("the autostart entry to appear", entries, timeout=10)
        with open(os.path.join(autostart_dir, found[0])) as f:
            desktop_entry = f.read()
        expect(ctx.app in desktop_entry, f"the autostart entry does not start this app:\n{desktop_entry}")
        wait_for("the checkbox to be checked", lambda: menu.find("Launch at login")["toggle"] == 1, timeout=10)
        menu.click("Launch at login")
        wait_for("the autostart entry to go", lambda: entries() == [], timeout=10)
        wait_for("the checkbox to be unchecked", lambda: menu.find("Launch at login")["toggle"] == 0, timeout=10)

        menu.click("Quit")
        code = app.wait_exit("the app to exit after Quit", timeout=20)
        expect(code == 0, f"the app exited with {code} after Quit")
        expect(not answers(port), "the gateway still answers after Quit")
    except Failure as e:
        fail_with_log(app, str(e))
    finally:
        squatter.close()
        app.kill()


def scenario_notification(ctx):
    """An exec approval becomes a notification; its "Allow once" button lets the command run."""
    from dbus_clients import FakeServices

    port = free_port()
    telegram = FakeTelegram()
    # Two bots: one works (a stranger writes to it), one's token is refused.
    channels = (
        f'\n  channels: {{ telegram: {{ apiRoot: "{telegram.url}", accounts: {{\n'
        f'    main: {{ botToken: "{FakeTelegram.TOKEN}" }},\n'
        '    broken: { botToken: "999:revoked" } } } },'
    )
    write_config(ctx.hearth_home, port,
                 fake_model_config(ctx.fake_openai) + '\n  tools: { profile: "coding" },' + channels)
    app = start_app(ctx)
    services = FakeServices()
    try:
        wait_for("the gateway to answer", lambda: answers(port), timeout=60)
        answer = {}

        def chat():
            # The Rust test scripted the fake model: an `exec` call, then a final answer.
            try:
                answer["reply"] = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions", token=TOKEN, timeout=120,
                                       body={"model": "hearth", "messages": [{"role": "user", "content": "make the file"}]})
            except Exception as e:  # reported below, in the main thread
                answer["error"] = e

        chatting = threading.Thread(target=chat, daemon=True)
        chatting.start()

        def approval_note():
            for n in services.notifications():
                if "allow-once" in n["actions"]:
                    return n
            return None

        note = wait_for("a notification asking to approve the command", approval_note, timeout=60)
        expect(note["summary"] == "Agent main wants to run a command", f"unexpected summary {note['summary']!r}")
        expect("echo approved-by-notification > approved.txt" in note["body"], f"the command is not shown: {note['body']!r}")
        expect(note["appName"] == "Hearth", f"unexpected app name {note['appName']!r}")
        labels = dict(zip(note["actions"][::2], note["actions"][1::2]))
        expect(labels == {"default": "Open Hearth", "allow-once": "Allow once", "deny": "Deny"}, f"unexpected actions {labels}")
        expect(answer == {}, f"the run ended before the approval: {answer}")

        services.click_action(note["id"], "allow-once")
        chatting.join(timeout=60)
        expect(not chatting.is_alive(), "the chat did not finish after the command was approved")
        expect("error" not in answer, f"the chat request failed: {answer.get('error')!r}")
        status, body = answer["reply"]
        expect(status == 200, f"the chat answered {status}: {body}")
        text = body["choices"][0]["message"]["content"]
        expect(text == "The command ran.", f"unexpected final answer {text!r}")
        made = os.path.join(ctx.hearth_home, "workspace", "approved.txt")
        expect(os.path.exists(made), f"the approved command did not run ({made} is missing)")

        # The bot whose token is refused: one "channel down" notification, with the error.
        def down_note():
            return next((n for n in services.notifications() if n["summary"] == "Telegram (broken) is down"), None)

        note = wait_for("a notification that the refused bot is down", down_note, timeout=30)
        expect("Unauthorized" in note["body"], f"the error is not shown: {note['body']!r}")
        labels = dict(zip(note["actions"][::2], note["actions"][1::2]))
        expect(labels == {"default": "Open Hearth"}, f"unexpected actions {labels}")

        # A stranger writes to the working bot: they get a code, the owner a notification.
        telegram.write(4242, "Ann", "Lee", "hello?")

        def pairing_note():
            for n in services.notifications():
                if "approve" in n["actions"]:
                    return n
            return None

        note = wait_for("a notification asking to approve the stranger", pairing_note, timeout=60)
        expect(note["summary"] == "Ann Lee wants to talk to your assistant", f"unexpected summary {note['summary']!r}")
        labels = dict(zip(note["actions"][::2], note["actions"][1::2]))
        expect(labels == {"default": "Open Hearth", "approve": "Approve", "deny": "Deny"}, f"unexpected actions {labels}")
        expect(note["body"].startswith("on Telegram (main), code "), f"unexpected body {note['body']!r}")
        code = note["body"].rsplit(" ", 1)[1]
        wait_for("the stranger to receive the same code", lambda: any(code in t for t in telegram.texts()), timeout=30)
        pending = gateway_calls(port, [("pairing.list", {})])[0]
        expect([r["code"] for r in pending["requests"]] == [code], f"unexpected pairing requests {pending}")

        services.click_action(note["id"], "approve")

        def approved():
            listed = gateway_calls(port, [("pairing.list", {})])[0]
            return not listed["requests"] and [a["senderId"] for a in listed["approved"]] == ["4242"]

        wait_for("Approve to approve the stranger (pairing.list)", approved, timeout=20)
        downs = [n for n in services.notifications() if n["summary"].endswith(" is down")]
        expect(len(downs) == 1, f"the outage notified more than once: {downs}")

        app.terminate()
        code = app.wait_exit("the app to exit on SIGTERM", timeout=30)
        expect(code == 0, f"the app exited with {code} on SIGTERM")
    except Failure as e:
        fail_with_log(app, str(e))
    finally:
        app.kill()
        telegram.close()


def scenario_secret(ctx):
    """Headless (no display) with the keychain backend: the generated gateway token lives in the
    Secret Service, the gateway accepts it, and the next start reads the same one back."""
    import dbus_clients

    port = free_port()
    write_config(ctx.hearth_home, port, "")
    # The token is generated: drop the literal one write_config put in.
    config_path = os.path.join(ctx.hearth_home, "hearth.json")
    with open(config_path) as f:
        text = f.read().replace(f', token: "{TOKEN}"', "")
    with open(config_path, "w") as f:
        f.write(text)
    env = dict(ctx.env)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["HEARTH_SECRETS_BACKEND"] = "keychain"
    service = f"hearth:{os.path.realpath(ctx.hearth_home)}"

    def stored_token():
        found = dbus_clients.secret_service_lookup({"service": service, "username": "gateway.auth.token"})
        return found[0][1] if found else None

    expect(stored_token() is None, "the Secret Service holds a token before the first start")
    for run in ("first", "second"):
        app = start_app(ctx, f"headless-{run}", env=env)
        try:
            wait_for(f"the headless gateway to answer ({run} start)", lambda: answers(port), timeout=60)
            wait_for("the app to say it runs headless",
                     lambda: "no display: running without the tray" in app.tail(), timeout=10)
            out = app.tail(200)
            token = wait_for("the gateway token in the Secret Service", stored_token, timeout=10)
            expect(len(token) >= 32, "the stored token is too short")
            expect(token not in out, "the token was printed to a non-terminal output")
            status, _ = http("GET", f"http://127.0.0.1:{port}/v1/models", token=token)
            expect(status == 200, f"the gateway refused the token from the Secret Service ({status})")
            status, _ = http("GET", f"http://127.0.0.1:{port}/v1/models", token="wrong-" + token)
            expect(status == 401, f"the gateway accepted a wrong token ({status})")
            if run == "first":
                first_token = token
            else:
                expect(token == first_token, "the second start made a new token instead of reading the stored one")
            expect(not os.path.exists(os.path.join(ctx.hearth_home, "secrets.enc")),
                   "secrets went to the encrypted file, not the keychain")
            app.terminate()
            code = app.wait_exit("the headless gateway to stop on SIGTERM", timeout=30)
            expect(code == 0, f"the headless gateway exited with {code}")
        except Failure as e:
            fail_with_log(app, str(e))
        finally:
            app.kill()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
