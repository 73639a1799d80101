"""Load label pickles without letting them run code.

`pickle.load` on a file from the internet can execute anything the file names (a
`__reduce__` payload calling `os.system`, say). The label files of the skeleton layouts
(docs/methods.md, File formats) only ever hold containers, strings, numbers and numpy arrays, so the
unpickler below resolves exactly those globals and refuses every other one with a
`DataFormatError` naming the file, the refused `module.name` and what is allowed.

Example:
    >>> import pickle, tempfile, os, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "train_label.pkl")
    >>> with open(path, "wb") as f:
    ...     pickle.dump((["S001C001P001R001A001"], [np.int64(0)]), f)
    >>> load_pickle(path)
    (['S001C001P001R001A001'], [np.int64(0)])
"""

from __future__ import annotations

import os
import pickle

from .errors import DataFormatError

# module -> names the label files need. numpy moved `core` to `_core` in 2.0; pickles
# written by either version name one or the other.
_NUMPY_CORE_NAMES = {"_reconstruct", "scalar"}
_ALLOWED: dict[str, set[str]] = {
    "builtins": {"dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
                 "int", "float", "bool", "complex", "slice", "range"},
    "__builtin__": {"dict", "list", "tuple", "set", "frozenset", "str", "unicode", "bytes",
                    "bytearray", "int", "long", "float", "bool", "complex"},
    "collections": {"OrderedDict", "defaultdict"},
    "numpy": {"ndarray", "dtype"},
    "numpy.core.multiarray": _NUMPY_CORE_NAMES,
    "numpy._core.multiarray": _NUMPY_CORE_NAMES,
    # protocol-5 pickles of contiguous arrays rebuild them from a buffer
    "numpy.core.numeric": {"_frombuffer"},
    "numpy._core.numeric": {"_frombuffer"},
    # protocol-2 pickles (Python 2 era label files) store array bytes as latin-1 text
    "_codecs": {"encode"},
}


def allowed_globals() -> list[str]:
    """Every `module.name` the restricted unpickler resolves, sorted."""
    return sorted(f"{module}.{name}" for module, names in _ALLOWED.items() for name in names)


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the globals in `allowed_globals()`."""

    def __init__(self, file, path: str):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        # numpy scalar types (numpy.float32, numpy.dtypes.Int64DType, ...) are safe data types
        if module in ("numpy", "numpy.dtypes") and _is_numpy_data_type(module, name):
            return super().find_class(module, name)
        raise DataFormatError(
            self.path, f"pickled global {module}.{name}",
            "only containers, str/int/float/bool/None and numpy arrays, scalars and dtypes "
            f"(allowed: {', '.join(allowed_globals())}, numpy scalar types)",
            "a type that could run code when loaded; refusing it")


def _is_numpy_data_type(module: str, name: str) -> bool:
    import numpy as np
    import numpy.dtypes

    obj = getattr(np if module == "numpy" else numpy.dtypes, name, None)
    return isinstance(obj, type) and (issubclass(obj, np.generic) or issubclass(obj, np.dtype))


def load_pickle(path: str | os.PathLike):
    """Unpickle `path` admitting only plain data; DataFormatError for anything else."""
    path = str(path)
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, path).load()
        except DataFormatError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                IndexError, KeyError, ImportError, UnicodeDecodeError, MemoryError, OverflowError,
                RuntimeError) as err:  # a corrupt stream makes numpy's array rebuild raise RuntimeError
            raise DataFormatError(path, "pickle", "a complete, valid pickle file",
                                  f"{type(err).__name__}: {err}") from None
