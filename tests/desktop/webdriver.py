"""A minimal W3C WebDriver client over plain HTTP (urllib), enough to drive the app's webview
through tauri-driver: a session, the current URL and title, a script, a screenshot."""

import base64
import http.client as http_client

from harness import Failure, http


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.session = None

    def _call(self, method, path, body=None, timeout=30.0, retry=True):
        # tauri-driver forwards each request over a pooled connection to WebKitWebDriver; when
        # that connection was just closed, tauri-driver drops ours without an answer. The reads
        # this client makes are safe to send again; creating a session is not (retry=False).
        attempts = 3 if retry else 1
        for attempt in range(attempts):
            try:
                status, answer = http(method, f"{self.base}{path}", body=body, timeout=timeout)
                break
            except (http_client.RemoteDisconnected, ConnectionResetError):
                if attempt == attempts - 1:
                    raise
        if status != 200 or not isinstance(answer, dict):
            raise Failure(f"WebDriver {method} {path} answered {status}: {answer}")
        return answer.get("value")

    def start(self, application, timeout=120.0):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": application},
        }}}
        value = self._call("POST", "/session", caps, timeout=timeout, retry=False)
        self.session = value["sessionId"]

    def _s(self, path):
        return f"/session/{self.session}{path}"

    def url(self):
        return self._call("GET", self._s("/url"))

    def title(self):
        return self._call("GET", self._s("/title"))

    def script(self, source, *args):
        return self._call("POST", self._s("/execute/sync"), {"script": source, "args": list(args)})

    def script_async(self, source, *args):
        return self._call("POST", self._s("/execute/async"), {"script": source, "args": list(args)})

    def painted(self):
        """Waits for the page's next two frames: what the DOM says is now on screen (a
        screenshot shows the last painted frame, which may lag behind the DOM)."""
        return self.script_async(
            "const done = arguments[arguments.length - 1];"
            "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"
        )

    def screenshot(self):
        return base64.b64decode(self._call("GET", self._s("/screenshot")))

    def quit(self):
        if self.session:
            try:
                self._call("DELETE", self._s(""))
            finally:
                self.session = None
