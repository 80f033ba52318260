#!/usr/bin/python3
"""The desktop services the tray app talks to, as small real D-Bus servers on the session bus.

- org.kde.StatusNotifierWatcher: where tray icons register (what a panel's tray host provides).
  Items register here; the test then reads each item's exported menu itself.
- org.freedesktop.Notifications: a notification daemon that records every Notify call and can
  report a click on one of its actions (ActionInvoked), as a person clicking a button would.
- dev.hearth.Test on the notification object: how the test reads what was recorded and asks for
  a click. Signals must come from the connection that owns the notification name, so the click
  is emitted here, not by the test process.

Runs until killed. Prints "ready" on stdout once both names are owned.
"""

import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

WATCHER = "org.kde.StatusNotifierWatcher"
NOTIFICATIONS = "org.freedesktop.Notifications"
TEST = "dev.hearth.Test"


class Watcher(dbus.service.Object):
    """The StatusNotifierItem watcher (freedesktop StatusNotifierItem spec, KDE names)."""

    def __init__(self, bus):
        super().__init__(bus, "/StatusNotifierWatcher")
        self.items = []

    @dbus.service.method(WATCHER, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        # An item passes either its bus name or its object path (then its bus name is the sender).
        if service.startswith("/"):
            item = f"{sender}{service}"
        else:
            item = f"{service}/StatusNotifierItem"
        if item not in self.items:
            self.items.append(item)
        self.StatusNotifierItemRegistered(item)

    @dbus.service.method(WATCHER, in_signature="s", out_signature="")
    def RegisterStatusNotifierHost(self, service):
        pass

    @dbus.service.signal(WATCHER, signature="s")
    def StatusNotifierItemRegistered(self, item):
        pass

    @dbus.service.signal(WATCHER, signature="s")
    def StatusNotifierItemUnregistered(self, item):
        pass

    @dbus.service.signal(WATCHER, signature="")
    def StatusNotifierHostRegistered(self):
        pass

    def _properties(self):
        return {
            "RegisteredStatusNotifierItems": dbus.Array(self.items, signature="s"),
            "IsStatusNotifierHostRegistered": dbus.Boolean(True),
            "ProtocolVersion": dbus.Int32(0),
        }

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        return self._properties()[name]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return self._properties()


class Notifications(dbus.service.Object):
    """A notification daemon (Desktop Notifications Specification 1.2) that records calls."""

    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/Notifications")
        self.recorded = []
        self.next_id = 1

    @dbus.service.method(NOTIFICATIONS, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body"]

    @dbus.service.method(NOTIFICATIONS, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout):
        nid = int(replaces_id) or self.next_id
        self.next_id = max(self.next_id, nid) + 1
        self.recorded.append({
            "id": nid,
            "appName": str(app_name),
            "icon": str(app_icon),
            "summary": str(summary),
            "body": str(body),
            "actions": [str(a) for a in actions],
            "expireTimeout": int(expire_timeout),
        })
        return dbus.UInt32(nid)

    @dbus.service.method(NOTIFICATIONS, in_signature="u", out_signature="")
    def CloseNotification(self, nid):
        self.NotificationClosed(nid, dbus.UInt32(3))

    @dbus.service.method(NOTIFICATIONS, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("hearth-test-notifications", "hearth", "1.0", "1.2")

    @dbus.service.signal(NOTIFICATIONS, signature="uu")
    def NotificationClosed(self, nid, reason):
        pass

    @dbus.service.signal(NOTIFICATIONS, signature="us")
    def ActionInvoked(self, nid, action):
        pass

    @dbus.service.method(TEST, in_signature="", out_signature="s")
    def Recorded(self):
        return json.dumps(self.recorded)

    @dbus.service.method(TEST, in_signature="us", out_signature="")
    def InvokeAction(self, nid, action):
        self.ActionInvoked(dbus.UInt32(nid), action)
        # A server closes a notification once one of its actions is chosen.
        self.NotificationClosed(dbus.UInt32(nid), dbus.UInt32(2))


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    keep = [
        dbus.service.BusName(WATCHER, bus, do_not_queue=True),
        dbus.service.BusName(NOTIFICATIONS, bus, do_not_queue=True),
        Watcher(bus),
        Notifications(bus),
    ]
    print("ready", flush=True)
    GLib.MainLoop().run()
    del keep


if __name__ == "__main__":
    sys.exit(main())
