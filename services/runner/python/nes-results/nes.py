"""Record results from a notebook run by NES.

    import nes
    nes.record("rows_loaded", 1234)
    nes.record("summary", {"p95": 0.93})
    nes.record("table", df)        # a DataFrame, a figure: kept as its display data
    nes.exit({"skipped": True})    # end the run here, successfully, with a value

Results travel as display outputs of the notebook, never through a side channel: the NES runner
reads them from the executed notebook, so they work on any kernel the runner can reach (a remote
one included) and survive in the output notebook. A JSON result is written exactly as scrapbook's
`sb.glue(name, value, encoder="json")` writes it, so scrapbook reads NES results and NES reads
scrapbook's. No dependencies: only the standard library and, when present, IPython.
"""

import datetime
import json

__version__ = "0.1.0"
__all__ = ["record", "exit", "ResultError", "NesExit", "MAX_VALUE_BYTES", "MAX_NAME_LENGTH"]

#: A JSON result may take at most this many bytes as compact JSON (the runner enforces it too).
MAX_VALUE_BYTES = 64 * 1024
#: A result's name: at most this many characters.
MAX_NAME_LENGTH = 128

SCRAP_JSON_MIME = "application/scrapbook.scrap.json+json"
EXIT_MIME = "application/vnd.nes.exit+json"
_SCRAP_VERSION = 2


class ResultError(ValueError):
    """A result NES cannot keep: a bad name, a value that is not JSON, or one that is too big."""


class NesExit(Exception):
    """Raised by `nes.exit`: the NES runner ends the run there, successfully.

    Outside NES (a notebook opened in Jupyter) it stops the cell like any exception.
    """


def record(name, value):
    """Records `value` as the run's result `name` (a later record of the same name replaces it).

    JSON values (dict, list, str, int, float, bool, None; numpy scalars and dates are converted)
    are kept as values, up to MAX_VALUE_BYTES. A value with a rich display (a pandas DataFrame,
    a matplotlib figure, anything with `_repr_html_`/`_repr_png_`...) is shown in the notebook
    and kept by reference to that output. Anything else raises ResultError.
    """
    _check_name(name)
    text = _json_or_none(value)
    if text is not None:
        _check_size("nes.record(%r)" % name, text)
        # Exactly what sb.glue(name, value, encoder="json") writes (scrapbook's scrap.v2 schema).
        payload = {
            "name": name,
            "data": json.loads(text),
            "encoder": "json",
            "store": "notebook",
            "version": _SCRAP_VERSION,
        }
        _publish({SCRAP_JSON_MIME: payload}, {"scrapbook": {"name": name, "data": True, "display": False}})
        return
    bundle = _display_bundle(value)
    if bundle is None:
        raise ResultError(
            "nes.record(%r): a %s is neither JSON (dict, list, str, number, bool, None) nor "
            "displayable (no rich display such as HTML or an image); record a summary of it "
            "instead" % (name, type(value).__name__)
        )
    data, metadata = bundle
    metadata = dict(metadata)
    metadata["scrapbook"] = {"name": name, "data": False, "display": True}
    _publish(data, metadata)


def exit(value=None):  # noqa: A001 - the name users know from dbutils.notebook.exit
    """Ends the run successfully here, with `value` (JSON, as for `record`) as its exit value.

    The rest of this cell and every later cell do not run; the run's status is succeeded.
    """
    text = _json_or_none(value)
    if text is None:
        raise ResultError("nes.exit(): the value must be JSON (dict, list, str, number, bool, None)")
    _check_size("nes.exit()", text)
    _publish({EXIT_MIME: {"value": json.loads(text), "version": 1}}, {})
    _quiet_next_exit()
    raise NesExit("nes.exit() ended the run")


def _check_name(name):
    if not isinstance(name, str) or not name.strip():
        raise ResultError("a result name must be a non-empty string, not %r" % (name,))
    if len(name) > MAX_NAME_LENGTH:
        raise ResultError(
            "result name %r... is %d characters; the limit is %d"
            % (name[:20], len(name), MAX_NAME_LENGTH)
        )


def _check_size(what, text):
    size = len(text.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise ResultError(
            "%s: the value is %d bytes as JSON; the limit is %d. Record a summary, or write the "
            "data to a file or table and record where it is" % (what, size, MAX_VALUE_BYTES)
        )


def _json_default(value):
    # numpy and pandas scalars (np.int64, np.float32, np.bool_) know their Python value.
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _json_or_none(value):
    """Compact JSON text of `value`, or None when it has no JSON form."""
    try:
        return json.dumps(value, allow_nan=False, default=_json_default, separators=(",", ":"))
    except ValueError as error:
        if "Circular" in str(error):
            return None
        raise ResultError("NaN and infinity have no JSON form; record None or a string instead")
    except TypeError:
        return None


def _display_bundle(value):
    """The value's rich display data (mime bundle and metadata), or None when it has none."""
    shell = _shell()
    if shell is None:
        return None
    data, metadata = shell.display_formatter.format(value)
    if set(data) - {"text/plain"}:
        return data, metadata
    # A matplotlib figure has a rich display only under the inline backend: render it here.
    if callable(getattr(value, "savefig", None)):
        import base64
        import io

        buffer = io.BytesIO()
        value.savefig(buffer, format="png", bbox_inches="tight")
        png = base64.b64encode(buffer.getvalue()).decode("ascii")
        return {"image/png": png, "text/plain": data.get("text/plain", "<figure>")}, {}
    return None


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _publish(data, metadata):
    shell = _shell()
    if shell is None:
        # Not in a kernel (a script, a test): there is no notebook to keep the result in.
        raise ResultError("nes.record and nes.exit work only inside a Jupyter (IPython) kernel")
    from IPython.display import publish_display_data

    publish_display_data(data, metadata=metadata)


def _quiet_next_exit():
    """Shows no traceback for NesExit; the previous custom exception handler comes back after."""
    shell = _shell()
    if shell is None:
        return
    previous = (shell.custom_exceptions, getattr(shell, "CustomTB", None))

    def handler(shell, etype, value, tb, tb_offset=None):
        shell.custom_exceptions, custom_tb = previous
        if custom_tb is not None:
            shell.CustomTB = custom_tb
        return []

    shell.set_custom_exc((NesExit,), handler)
