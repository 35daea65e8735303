"""What a stored callback's object code needs from this process before numba links it.

Linking object code (a disk-cache load, a forked compile's result) needs every symbol
it leaves undefined to be known to LLVM, or LLVM aborts the process ("Symbol not
found"). numba makes them known with ``context.refresh()``, which also imports and
installs all of numba's implementation registries (0.18-0.20 s in a fit process) that
only a compilation uses. The structure-generic kernel needs no more than numba's runtime
(NRT) functions, libm and memcpy/memset; so :func:`prepare` registers the runtime
(``rtsys.initialize``, 0.02 s) and refreshes the whole context only when a symbol is
still unresolved, or when the object code cannot be read (not ELF: macOS, Windows).
"""

from __future__ import annotations

import struct

_SHT_SYMTAB, _SHT_RELA, _SHT_REL = 2, 4, 9
_SHN_UNDEF = 0


class ElfSymbols:
    """The symbol table of an ELF64 little-endian relocatable object: each symbol's name,
    whether it is defined, and which symbols the code's relocations refer to."""

    def __init__(self, object_code: bytes):
        data = memoryview(object_code)
        if bytes(data[:4]) != b"\x7fELF" or data[4] != 2 or data[5] != 1:   # ELF, 64-bit, little-endian
            raise ValueError("not an ELF64 little-endian object")
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                    for i in range(shnum)]
        self.names: dict[int, list[str]] = {}       # symbol table section -> names by index
        self.undefined: list[str] = []
        for index, (_, kind, _, _, offset, size, link, _, _, entsize) in enumerate(sections):
            if kind == _SHT_SYMTAB:
                self.names[index] = self._read_symbols(data, sections[link], offset, size, entsize)
        self.relocated: set[str] = set()
        for _, kind, _, _, offset, size, link, _, _, entsize in sections:
            if kind in (_SHT_RELA, _SHT_REL):
                names = self.names[link]
                for at in range(offset, offset + size, entsize):
                    info, = struct.unpack_from("<Q", data, at + 8)
                    self.relocated.add(names[info >> 32])

    def _read_symbols(self, data, strings, offset, size, entsize) -> list[str]:
        if entsize < 24:
            raise ValueError("malformed symbol table")
        str_off, str_size = strings[4], strings[5]
        names = []
        for at in range(offset, offset + size, entsize):
            name_off, _, _, shndx, _, _ = struct.unpack_from("<IBBHQQ", data, at)
            if name_off >= max(str_size, 1):
                raise ValueError("symbol name outside the string table")
            start = str_off + name_off
            end = bytes(data[start:str_off + str_size]).index(b"\x00") + start
            name = bytes(data[start:end]).decode("ascii")
            names.append(name)
            if shndx == _SHN_UNDEF and name:
                self.undefined.append(name)
        return names


def read_symbols(object_code: bytes) -> ElfSymbols | None:
    """:class:`ElfSymbols` of ``object_code``, or ``None`` when it is not an ELF64
    little-endian object (or is malformed).

    Examples
    --------
    >>> read_symbols(b"not an object file") is None
    True
    """
    try:
        return ElfSymbols(object_code)
    except (struct.error, IndexError, KeyError, ValueError, UnicodeDecodeError):
        return None


def _object_code(reduced: tuple) -> bytes | None:
    try:
        _, kind, data = reduced[0]
        return data[0] if kind == "object" else None
    except (TypeError, ValueError, IndexError):
        return None


def slim(reduced: tuple) -> tuple:
    """``reduced`` (``CompileResult._reduce()``) without the environments its code never
    reads, for the disk.

    numba stores the environment of every function that went into the library (here
    21, mostly of its array implementations); loading one imports the module it
    belongs to (``numba.np.arrayobj``, ``numba.cpython.unicode``: 0.17 s). An
    environment is a global whose address numba writes after loading; code that reads
    it has a relocation to it, so one without any relocation is never read. Unchanged
    when the object code cannot be read.
    """
    code = _object_code(reduced)
    symbols = read_symbols(code) if code is not None else None
    if symbols is None or len(reduced) != 9:
        return reduced
    kept = tuple(env for env in reduced[8] if env.env_name in symbols.relocated)
    return (*reduced[:8], kept)


def prepare(context, reduced: tuple) -> str:
    """Make ``context`` ready to link the object code in ``reduced`` (``CompileResult._reduce()``).

    Returns ``"runtime"`` when registering numba's runtime was enough, ``"refresh"``
    when the whole context was refreshed.
    """
    import llvmlite.binding as ll
    from numba.core.runtime import nrt

    nrt.rtsys.initialize(context)
    code = _object_code(reduced)
    symbols = read_symbols(code) if code is not None else None
    if symbols is None or any(ll.address_of_symbol(n) is None for n in symbols.undefined):
        context.refresh()
        return "refresh"
    return "runtime"
