"""CI-only Krita plug-in: when $KRITA_TEST_SCRIPT is set, run it once the main window exists and
terminate Krita with its exit status (adapted from shared/docs/editor-testing/krita).

The script defines ``main(ctx)``, a generator: ``yield MS`` hands control back to Krita's event
loop for MS milliseconds, ``return CODE`` ends the run. ``ctx["screenshot"](path)`` grabs the
main window. Env: KRITA_TEST_SCRIPT, KRITA_TEST_TIMEOUT (watchdog seconds, default 120; exit 124),
KRITA_TEST_DELAY_MS. Uncaught exceptions in Qt slots are recorded (and fail the run) instead of
opening Krita's modal traceback dialog.
"""

import os
import runpy
import subprocess
import sys
import threading
import time
import traceback

from krita import Extension, Krita

try:  # Krita 6 is Qt 6 (its Python refuses PyQt5); never load PyQt6 into a Qt 5 Krita
    if "PyQt5.QtCore" in sys.modules:
        raise ImportError
    from PyQt6.QtCore import PYQT_VERSION_STR, QT_VERSION_STR, QEventLoop, QTimer

    PYQT = "PyQt6"
except ImportError:
    from PyQt5.QtCore import PYQT_VERSION_STR, QT_VERSION_STR, QEventLoop, QTimer

    PYQT = "PyQt5"

_T0 = time.time()
ERRORS = []


def _record_exception(exc_type, exc, tb):
    ERRORS.append("".join(traceback.format_exception(exc_type, exc, tb)))
    print("driver: uncaught exception:", file=sys.stderr)
    traceback.print_exception(exc_type, exc, tb)
    sys.stderr.flush()


def _watchdog():
    print("driver: watchdog timeout, killing Krita", file=sys.stderr)
    sys.stderr.flush()
    os._exit(124)


def _wait(ms):
    loop = QEventLoop()
    QTimer.singleShot(int(ms), loop.quit)
    (loop.exec if hasattr(loop, "exec") else loop.exec_)()  # PyQt6 has no exec_


def _screenshot(path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    _wait(300)
    win = Krita.instance().activeWindow()
    ok = win is not None and win.qwindow().grab().save(path)
    base, ext = os.path.splitext(path)
    try:
        subprocess.run(
            ["import", "-window", "root", base + "_root" + ext], capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        pass
    print("driver: screenshot ->", path, ok)
    return ok


class TestDriver(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self._started = False
        self._gen = None

    def setup(self):
        if not os.environ.get("KRITA_TEST_SCRIPT"):
            return
        sys.excepthook = _record_exception
        t = threading.Timer(float(os.environ.get("KRITA_TEST_TIMEOUT", "120")), _watchdog)
        t.daemon = True
        t.start()
        Krita.instance().notifier().windowCreated.connect(self._schedule)

    def createActions(self, window):
        pass

    def _schedule(self):
        if self._started:
            return
        self._started = True
        print("driver: windowCreated after %.2fs" % (time.time() - _T0))
        python = sys.version.split()[0]
        print(
            "driver: krita %s, Qt %s, %s %s, Python %s"
            % (Krita.instance().version(), QT_VERSION_STR, PYQT, PYQT_VERSION_STR, python)
        )
        QTimer.singleShot(int(os.environ.get("KRITA_TEST_DELAY_MS", "200")), self._run)

    def _run(self):
        win = Krita.instance().activeWindow()
        if win is not None:  # no window manager under Xvfb: size the window to the screen
            win.qwindow().setGeometry(win.qwindow().screen().availableGeometry())
        try:
            ns = runpy.run_path(os.environ["KRITA_TEST_SCRIPT"], run_name="krita_test")
            ctx = {"wait": _wait, "screenshot": _screenshot, "errors": ERRORS}
            result = ns["main"](ctx)
            if hasattr(result, "send"):
                self._gen = result
                QTimer.singleShot(0, self._step)
                return
            code = int(result or 0)
        except BaseException:
            traceback.print_exc()
            code = 1
        self._finish(code)

    def _step(self):
        try:
            ms = next(self._gen)
            QTimer.singleShot(int(ms or 0), self._step)
            return
        except StopIteration as stop:
            code = int(stop.value or 0)
        except BaseException:
            traceback.print_exc()
            code = 1
        self._finish(code)

    def _finish(self, code):
        if ERRORS and code == 0:
            code = 1
        print("driver: finished with %d after %.2fs" % (code, time.time() - _T0))
        sys.stdout.flush()
        sys.stderr.flush()
        if os.environ.get("KRITA_TEST_KEEP") != "1":
            os._exit(code)  # no "save changes?" dialog; the status reaches the shell


Krita.instance().addExtension(TestDriver(Krita.instance()))
