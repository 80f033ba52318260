"""The few X11 requests a person's window manager would make, through libX11 (ctypes): find a
top-level window by its title, and ask it to close (WM_DELETE_WINDOW, as its close button does).
Xvfb runs no window manager, so the test sends the request itself."""

import ctypes
import ctypes.util

_X11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
_X11.XOpenDisplay.restype = ctypes.c_void_p
_X11.XOpenDisplay.argtypes = [ctypes.c_char_p]
_X11.XCloseDisplay.argtypes = [ctypes.c_void_p]
_X11.XDefaultRootWindow.restype = ctypes.c_ulong
_X11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
_X11.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                            ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                            ctypes.POINTER(ctypes.c_uint)]
_X11.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
_X11.XFree.argtypes = [ctypes.c_void_p]
_X11.XInternAtom.restype = ctypes.c_ulong
_X11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
_X11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
_X11.XFlush.argtypes = [ctypes.c_void_p]


# Windows come and go while the tree is read (GTK creates and destroys helper windows); Xlib's
# default handler would exit the process on the BadWindow that follows. Ignored: the call fails.
_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_IGNORE_ERRORS = _ERROR_HANDLER(lambda _display, _event: 0)
_X11.XSetErrorHandler.argtypes = [_ERROR_HANDLER]
_X11.XSetErrorHandler(_IGNORE_ERRORS)


class _WindowAttributes(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("border_width", ctypes.c_int), ("depth", ctypes.c_int), ("visual", ctypes.c_void_p),
                ("root", ctypes.c_ulong), ("c_class", ctypes.c_int), ("bit_gravity", ctypes.c_int),
                ("win_gravity", ctypes.c_int), ("backing_store", ctypes.c_int), ("backing_planes", ctypes.c_ulong),
                ("backing_pixel", ctypes.c_ulong), ("save_under", ctypes.c_int), ("colormap", ctypes.c_ulong),
                ("map_installed", ctypes.c_int), ("map_state", ctypes.c_int), ("all_event_masks", ctypes.c_long),
                ("your_event_mask", ctypes.c_long), ("do_not_propagate_mask", ctypes.c_long),
                ("override_redirect", ctypes.c_int), ("screen", ctypes.c_void_p)]


_X11.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_WindowAttributes)]
_IS_VIEWABLE = 2


class _ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class _Event(ctypes.Union):
    # XEvent is a union padded to 24 longs.
    _fields_ = [("client", _ClientMessage), ("pad", ctypes.c_long * 24)]


_CLIENT_MESSAGE = 33


class _Display:
    def __init__(self, name):
        self.ptr = _X11.XOpenDisplay(name.encode())
        if not self.ptr:
            raise OSError(f"cannot open X display {name}")

    def __enter__(self):
        return self.ptr

    def __exit__(self, *_):
        _X11.XCloseDisplay(self.ptr)


def find_window(display, title):
    """The id of a viewable top-level window titled `title`, or None."""
    with _Display(display) as dpy:
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children = ctypes.POINTER(ctypes.c_ulong)()
        count = ctypes.c_uint()
        if not _X11.XQueryTree(dpy, _X11.XDefaultRootWindow(dpy), ctypes.byref(root), ctypes.byref(parent),
                               ctypes.byref(children), ctypes.byref(count)):
            return None
        try:
            for i in range(count.value):
                window = children[i]
                name = ctypes.c_char_p()
                if not _X11.XFetchName(dpy, window, ctypes.byref(name)) or not name.value:
                    continue
                matches = name.value.decode(errors="replace") == title
                _X11.XFree(name)
                attrs = _WindowAttributes()
                if matches and _X11.XGetWindowAttributes(dpy, window, ctypes.byref(attrs)) \
                        and attrs.map_state == _IS_VIEWABLE:
                    return int(window)
        finally:
            if children:
                _X11.XFree(children)
    return None


def close_window(display, window):
    """Asks `window` to close, as a window manager does when its close button is clicked."""
    with _Display(display) as dpy:
        event = _Event()
        event.client.type = _CLIENT_MESSAGE
        event.client.window = window
        event.client.message_type = _X11.XInternAtom(dpy, b"WM_PROTOCOLS", False)
        event.client.format = 32
        event.client.data[0] = _X11.XInternAtom(dpy, b"WM_DELETE_WINDOW", False)
        event.client.data[1] = 0  # CurrentTime
        _X11.XSendEvent(dpy, window, False, 0, ctypes.byref(event))
        _X11.XFlush(dpy)
