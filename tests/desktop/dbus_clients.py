"""Clients of what the app exports or uses on the session bus: its tray item and menu
(StatusNotifierItem + com.canonical.dbusmenu), the fake services (fake_services.py), and the
Secret Service (gnome-keyring)."""

import json

import dbus

WATCHER = "org.kde.StatusNotifierWatcher"
ITEM = "org.kde.StatusNotifierItem"
DBUSMENU = "com.canonical.dbusmenu"
SECRETS = "org.freedesktop.secrets"


def bus():
    return dbus.SessionBus()


def has_owner(name):
    return bool(bus().name_has_owner(name))


class TrayMenu:
    """A registered tray item and its exported menu, read and clicked as a tray host does."""

    def __init__(self, item):
        # `item` is "<bus name>/<object path>" as the watcher lists it.
        slash = item.index("/")
        self.bus_name, self.path = item[:slash], item[slash:]
        self.item = bus().get_object(self.bus_name, self.path)
        menu_path = self.item_property("Menu")
        self.menu = dbus.Interface(bus().get_object(self.bus_name, menu_path), DBUSMENU)

    @classmethod
    def registered(cls):
        """The first item registered with the watcher, or None."""
        watcher = bus().get_object(WATCHER, "/StatusNotifierWatcher")
        items = watcher.Get(WATCHER, "RegisteredStatusNotifierItems", dbus_interface=dbus.PROPERTIES_IFACE)
        return cls(str(items[0])) if items else None

    def item_property(self, name):
        return self.item.Get(ITEM, name, dbus_interface=dbus.PROPERTIES_IFACE)

    def layout(self):
        """The menu as a list of entries: {id, label, enabled, type, toggle, children}."""
        _revision, root = self.menu.GetLayout(0, -1, dbus.Array([], signature="s"))
        return [_entry(child) for child in root[2]]

    def entries(self):
        """Every entry, submenus flattened, in menu order."""
        out = []

        def walk(entries):
            for e in entries:
                out.append(e)
                walk(e["children"])

        walk(self.layout())
        return out

    def find(self, label_prefix):
        for e in self.entries():
            if e["label"].startswith(label_prefix):
                return e
        return None

    def click(self, label_prefix):
        entry = self.find(label_prefix)
        if entry is None:
            labels = [e["label"] for e in self.entries()]
            raise AssertionError(f"no menu entry starting with {label_prefix!r}; the menu has {labels}")
        self.menu.Event(
            dbus.Int32(entry["id"]),
            "clicked",
            dbus.String("", variant_level=1),
            dbus.UInt32(0),
        )
        return entry


def _entry(variant):
    mid, props, children = variant
    label = str(props.get("label", ""))
    # GTK mnemonics: "_" marks an access key, "__" is a literal underscore.
    label = label.replace("__", "\0").replace("_", "").replace("\0", "_")
    return {
        "id": int(mid),
        "label": label,
        "type": str(props.get("type", "standard")),
        "enabled": bool(props.get("enabled", True)),
        "visible": bool(props.get("visible", True)),
        "toggle": int(props["toggle-state"]) if "toggle-state" in props else None,
        "children": [_entry(c) for c in children],
    }


class FakeServices:
    """The test's handle on fake_services.py."""

    def __init__(self):
        self.obj = bus().get_object("org.freedesktop.Notifications", "/org/freedesktop/Notifications")

    def notifications(self):
        return json.loads(str(self.obj.Recorded(dbus_interface="dev.hearth.Test")))

    def click_action(self, nid, action):
        self.obj.InvokeAction(dbus.UInt32(nid), action, dbus_interface="dev.hearth.Test")


def secret_service_lookup(attributes):
    """Reads the secrets whose attributes match, straight from the Secret Service (the same data
    `secret-tool lookup` reads): a list of (attributes, value)."""
    service = bus().get_object(SECRETS, "/org/freedesktop/secrets")
    api = dbus.Interface(service, "org.freedesktop.Secret.Service")
    unlocked, locked = api.SearchItems(dbus.Dictionary(attributes, signature="ss"))
    if locked:
        api.Unlock(locked)
    _output, session = api.OpenSession("plain", dbus.String("", variant_level=1))
    items = list(unlocked) + list(locked)
    if not items:
        return []
    secrets = api.GetSecrets(items, session)
    out = []
    for path in items:
        item = bus().get_object(SECRETS, path)
        attrs = item.Get("org.freedesktop.Secret.Item", "Attributes", dbus_interface=dbus.PROPERTIES_IFACE)
        _session, _params, value, _content_type = secrets[path]
        out.append(({str(k): str(v) for k, v in attrs.items()}, bytes(value).decode()))
    return out
