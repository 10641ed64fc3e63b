"""Loading recipe YAML with ruamel.yaml, the way conda-build and rattler-build see it.

Two upstream quirks shape the loader:
- conda-build reads numbers as the text written (`version: 1.10` is "1.10", not 1.1), so ints
  and floats load as `NumberText`, a str that remembers its numeric value.
- meta.yaml files keep every selector line when we read them for all platforms, which can give
  one mapping two `url:` keys; ruamel would refuse, so duplicate keys are allowed (first wins).
The round-trip loader is used where line numbers (`.lc`) are needed (recipe.yaml), never to
dump; elsewhere the safe loader with ruamel's C parser is used: parsing is most of the time it
takes to read a meta.yaml, and the C parser is about seven times faster.
"""

from __future__ import annotations

from types import GeneratorType
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from bot.formats.base import FormatError
from bot.nesting import MAX_NESTING, TooDeep, check_nesting, safe_for_c_parser

try:
    from ruamel.yaml.cyaml import CParser
except ImportError:  # ruamel.yaml.clib is not built for this interpreter
    CParser = None


class NumberText(str):
    """A YAML int or float, kept as the text written; `.number` holds its value."""

    number: int | float


def _number_text(_constructor: Any, node: ScalarNode) -> NumberText:
    text = NumberText(node.value)
    try:
        text.number = int(node.value.replace("_", ""), 0)
    except ValueError:
        try:
            text.number = float(node.value.replace("_", ""))
        except ValueError:
            text.number = 0  # `.inf`, sexagesimal and other YAML 1.1 oddities
    return text


class _Constructor(RoundTripConstructor):
    pass


class _SafeConstructor(SafeConstructor):
    pass


class _Resolver(VersionedResolver):
    """ruamel's resolver, finding the YAML version once per document instead of per scalar.

    With the C parser, ruamel finds it for every scalar by two failing attribute lookups (a fifth
    of what a load costs), and the answer cannot change: the C parser never tells the resolver
    about a `%YAML` directive. Used with the C parser only.
    """

    _first_characters: dict[str, tuple[tuple[Tag, Any], ...]]  # set on first use

    @property
    def processing_version(self) -> Any:
        if not hasattr(self, "_document_version"):
            self._document_version = super().processing_version
        return self._document_version

    @property
    def versioned_resolver(self) -> Any:
        # The same table for every scalar, then: ruamel looks it up three times a scalar.
        if not hasattr(self, "_document_resolvers"):
            self._document_resolvers = super().versioned_resolver
        return self._document_resolvers

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """ruamel's answer, without making a list and a Tag for every scalar it resolves."""
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        if implicit[0]:
            try:
                table = self._first_characters
            except AttributeError:
                table = self._first_characters = self._by_first_character()
            for tag, regexp in table.get(value[:1], ()):
                if regexp.match(value):
                    return tag
        return self.DEFAULT_SCALAR_TAG

    def _by_first_character(self) -> dict[str, tuple[tuple[Tag, Any], ...]]:
        version = self.processing_version
        table = _FIRST_CHARACTER_TABLES.get(version)
        if table is None:
            resolvers = self.versioned_resolver
            anywhere = resolvers.get(None, [])
            table = {
                first: tuple((Tag(suffix=tag), regexp) for tag, regexp in [*listed, *anywhere])
                for first, listed in resolvers.items()
                if first is not None
            }
            _FIRST_CHARACTER_TABLES[version] = table
        return table


_FIRST_CHARACTER_TABLES: dict[Any, dict[str, tuple[tuple[Tag, Any], ...]]] = {}


for _class in (_Constructor, _SafeConstructor):
    _class.add_constructor("tag:yaml.org,2002:int", _number_text)
    _class.add_constructor("tag:yaml.org,2002:float", _number_text)


_STR, _MAP, _SEQ = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "map", "seq"))
_KEY_TAGS = frozenset(
    f"tag:yaml.org,2002:{kind}" for kind in ("str", "int", "float", "bool", "null")
)


# The tag the resolver gives every plain text scalar (the same object each time).
_PLAIN_STR = VersionedResolver.DEFAULT_SCALAR_TAG


class _NotPlain(Exception):
    """The document has something only ruamel's own construction reads right."""


class _PlainConstructor:
    """Builds a document of mappings, sequences and scalars in one walk over its nodes.

    ruamel's construction goes through generators, a pending-work list and two memo tables
    per node, for the sake of aliases and recursive documents: about half of what a load cost.
    A recipe has none of those; this builds the same values directly, and gives up
    (`_NotPlain`) on anything else: a node met twice (an alias), a merge key or a `=` key,
    a tag other than the implicit ones. ruamel then builds the document from the start.
    """

    def __init__(self, constructor: SafeConstructor) -> None:
        self._constructor = constructor
        self._scalars = constructor.yaml_constructors
        self._seen: set[int] = set()

    def build(self, node: Any) -> Any:
        if node.ctag is _PLAIN_STR and type(node) is ScalarNode:
            return node.value  # most scalars: resolved as text (checked first, without node.tag)
        tag = node.tag
        if type(node) is ScalarNode:
            return node.value if tag == _STR else self._scalar(node, tag)
        if id(node) in self._seen:
            raise _NotPlain
        self._seen.add(id(node))
        if tag == _MAP and type(node) is MappingNode:
            mapping: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if type(key_node) is not ScalarNode or (
                    key_node.ctag is not _PLAIN_STR and key_node.tag not in _KEY_TAGS
                ):
                    raise _NotPlain  # `<<`, `=`, a collection as a key
                key = self.build(key_node)
                value = self.build(value_node)
                if key not in mapping:  # duplicate keys are allowed: the first one wins
                    mapping[key] = value
            return mapping
        if tag == _SEQ and type(node) is SequenceNode:
            return [self.build(child) for child in node.value]
        raise _NotPlain

    def _scalar(self, node: ScalarNode, tag: str) -> Any:
        construct = self._scalars.get(tag)
        if construct is None:
            raise _NotPlain  # an unknown tag: ruamel says what is wrong
        value = construct(self._constructor, node)
        if isinstance(value, GeneratorType):
            raise _NotPlain
        return value


if CParser is not None:

    class _CLoader(CParser, _SafeConstructor, _Resolver):
        """ruamel's safe loader on its C parser, as `YAML(typ="safe").load` assembles it, but
        assembled once: that builds the class anew on every load, and each YAML() looks its
        plug-ins up on disk (a glob): together a tenth of what reading a meta.yaml took."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            self._parser = self._composer = self
            _SafeConstructor.__init__(self, loader=self)
            self.allow_duplicate_keys = True
            _Resolver.__init__(self, version=None, loadumper=self)

        def construct_document(self, node: Any) -> Any:
            try:
                return _PlainConstructor(self).build(node)
            except _NotPlain:
                return super().construct_document(node)


def load(text: str, *, positions: bool = False) -> Any:
    """Parse YAML; errors become FormatError naming the line.

    `positions=True` keeps line numbers (`.lc`) with the round-trip loader. Otherwise the safe
    loader with the C parser is tried first, for speed; it follows YAML 1.1 and refuses some
    plain scalars YAML 1.2 allows (a `:` inside one), so the round-trip loader, our reference,
    decides whenever the C parser refuses.
    """
    try:
        check_nesting(text)
        return _load(text, positions)
    except TooDeep as error:
        raise FormatError(str(error)) from None
    except RecursionError:
        raise FormatError(f"YAML nested more than {MAX_NESTING} levels deep") from None


def _load(text: str, positions: bool) -> Any:
    if not positions and safe_for_c_parser(text):
        try:
            return _load_fast(text)
        except YAMLError:
            pass
    yaml = YAML(typ="rt", pure=True)
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = True
    try:
        return yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = error.problem or error.context or "syntax error"
        raise FormatError(f"malformed YAML{where}: {problem}") from None
    except YAMLError as error:
        raise FormatError(f"malformed YAML: {error}") from None


def _load_fast(text: str) -> Any:
    if CParser is None:  # no C extension here: ruamel's safe loader in Python
        fast = YAML(typ="safe")
        fast.Constructor = _SafeConstructor
        fast.allow_duplicate_keys = True
        return fast.load(text)
    loader = _CLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
        # The loader is its own parser, composer, constructor and resolver: references to
        # itself that only the cycle collector would undo, keeping each document's loader
        # (and what it read) alive until the next collection. Dropped now instead.
        loader.__dict__.clear()


class Budget:
    """Caps how many nodes a walk may visit: YAML aliases can make a small file a huge tree
    (the "billion laughs"), and copying or walking that tree must fail, not hang."""

    def __init__(self, what: str, limit: int = 10_000) -> None:
        self._what = what
        self._left = limit

    def spend(self) -> None:
        self._left -= 1
        if self._left < 0:
            raise FormatError(f"{self._what} is too large (nested YAML aliases?)")


def plain(value: Any, budget: Budget | None = None) -> Any:
    """ruamel's round-trip containers and scalars as plain dicts, lists, str, int, float."""
    budget = budget or Budget("the value")
    budget.spend()
    if isinstance(value, dict):
        return {str(key): plain(item, budget) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item, budget) for item in value]
    if isinstance(value, NumberText):
        return value.number
    if isinstance(value, str):
        return str(value)
    return value


def text(value: Any) -> str | None:
    """A scalar as text (numbers as written); None for missing, null, booleans and containers."""
    if isinstance(value, str):
        return str(value)
    return None
