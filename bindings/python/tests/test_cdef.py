"""The cffi declarations (lftf/_cdef.py) match include/lftf.h.

Reference: the header itself, parsed with pycparser (cffi's own C parser)
after removing comments and preprocessor lines; declarations are compared
as pycparser regenerates them, so a changed parameter type, a new struct
field or a renumbered enum value fails here, not at run time."""

import os
import re

import pytest
from pycparser import c_ast, c_generator, c_parser

from conftest import REPO
from lftf import _cdef

HEADER = os.path.join(REPO, "include", "lftf.h")

# cffi's cdef accepts the fixed-width and size types without typedefs;
# pycparser needs them declared.
_PRELUDE = ("typedef unsigned long size_t; typedef int int32_t; typedef long int64_t; "
            "typedef unsigned long uint64_t;\n")


def _header_text():
    if not os.path.exists(HEADER):
        pytest.skip("%s absent (not a source checkout)" % HEADER)
    with open(HEADER, encoding="utf-8") as f:
        return f.read()


def _strip(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    lines = []
    in_macro = False
    in_cplusplus = False  # the extern "C" { and } lines sit in #ifdef __cplusplus
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#ifdef __cplusplus"):
            in_cplusplus = True
        if in_cplusplus:
            in_cplusplus = not stripped.startswith("#endif")
            continue
        if in_macro or stripped.startswith("#"):
            in_macro = line.rstrip().endswith("\\")
            continue
        lines.append(line)
    return re.sub(r"\bLFTF_API\b", "", "\n".join(lines))


def _declarations(source):
    ast = c_parser.CParser().parse(_PRELUDE + source, filename="<lftf>")
    gen = c_generator.CGenerator()
    decls = {}
    for node in ast.ext:
        if isinstance(node, c_ast.Typedef):
            if node.name in ("size_t", "int32_t", "int64_t", "uint64_t"):
                continue
            decls["typedef " + node.name] = gen.visit(node)
        elif isinstance(node, c_ast.Decl):
            if isinstance(node.type, c_ast.FuncDecl):
                decls["function " + node.name] = gen.visit(node)
            elif isinstance(node.type, c_ast.Enum):
                key = "enum " + (node.type.name or ",".join(
                    e.name for e in node.type.values.enumerators))
                decls[key] = gen.visit(node)
            elif isinstance(node.type, c_ast.Struct):
                decls["struct " + node.type.name] = gen.visit(node)
            else:
                decls["decl " + str(node.name)] = gen.visit(node)
    return decls


def _api_functions(text):
    return set(re.findall(r"LFTF_API\s+[^;(]*?\b(lftf_\w+)\s*\(", text))


def test_every_exported_function_is_declared():
    text = _header_text()
    names = _api_functions(text)
    assert len(names) > 60, "the header parser found too few LFTF_API functions: %d" % len(names)
    declared = set(re.findall(r"\b(lftf_\w+)\s*\(", _cdef.CDEF))
    missing = sorted(names - declared)
    assert not missing, ("functions of lftf.h missing from lftf/_cdef.py "
                         "(run bindings/python/gen_cdef.py): %s" % missing)
    extra = sorted(n for n in declared - names if not n.endswith("_fn"))
    assert not extra, "functions in lftf/_cdef.py that lftf.h lacks: %s" % extra


def test_declarations_match_header():
    header = _declarations(_strip(_header_text()))
    ours = _declarations(_strip(_cdef.CDEF))
    assert sorted(header) == sorted(ours), \
        "declared names differ: only in header %s, only in cdef %s" % (
            sorted(set(header) - set(ours)), sorted(set(ours) - set(header)))
    diffs = ["%s:\n  header: %s\n  cdef:   %s" % (k, header[k], ours[k])
             for k in header if header[k] != ours[k]]
    assert not diffs, "declarations differ (run bindings/python/gen_cdef.py):\n" + "\n".join(diffs)


def test_version_macros_match():
    text = _header_text()
    for part in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(r"#define LFTF_VERSION_%s (\d+)" % part, text)
        assert m, "LFTF_VERSION_%s not in lftf.h" % part
        assert int(m.group(1)) == getattr(_cdef, "VERSION_" + part)


def test_cdef_is_accepted_by_cffi():
    from cffi import FFI
    ffi = FFI()
    ffi.cdef(_cdef.CDEF)
    # Layout facts cffi computed from the declarations, checked against C's
    # rules by hand for LP64: struct_size first, pointers 8 bytes.
    assert ffi.offsetof("lftf_model_params", "struct_size") == 0
    assert ffi.offsetof("lftf_model_params", "device") == 8
    # struct_size, batch_size, progress, progress_user, shard_index, shard_count,
    # then the int add_bos padded to 8
    assert ffi.sizeof("lftf_probs_params") == 8 * 7
    assert ffi.offsetof("lftf_probs_params", "add_bos") == 8 * 6
    assert ffi.sizeof("lftf_history_entry") == 4 + 4 + 8 * 3


def test_comparison_detects_drift():
    """The comparison is not vacuous: a changed parameter type, a missing
    struct field and a renumbered enum value are each reported."""
    header = _declarations(_strip(_header_text()))
    for old, new in (("const char *lftf_version(void);", "char *lftf_version(void);"),
                     ("    int add_bos;\n} lftf_tokenizer_params;", "} lftf_tokenizer_params;"),
                     ("LFTF_E_EMPTY = -14", "LFTF_E_EMPTY = -15")):
        assert old in _cdef.CDEF
        altered = _declarations(_strip(_cdef.CDEF.replace(old, new)))
        assert altered != header, "altering %r went unnoticed" % old
