"""The spec editor's form, generated from the spec's JSON schema (`rlab.spec.json_schema()`).

One section per block, one field per leaf, each named by its dotted path (`train.lr`). Posted fields become
a spec mapping that holds only what differs from the defaults (so the YAML beside the form stays short); a
spec mapping becomes field values again; and SpecError paths are placed at the field or section they name.
Nothing here touches the database: the caller passes the choices it knows (datasets, benchmarks, templates).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from rlab.spec import FieldError, SpecError
from rlab.spec import load_yaml as spec_yaml


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a required field's default; also "leave this field out of the spec"
SCALAR_TYPES = ("string", "integer", "number", "boolean")
INDEX = re.compile(r"\[\d+\]")


def dom_key(path: str) -> str:
    """A path as an HTML id part (dots would need escaping in CSS selectors)."""
    return path.replace(".", "--")


@dataclass(frozen=True)
class FormField:
    path: str
    kind: str  # text | integer | number | boolean | choice | list | multichoice | yaml
    help: str = ""
    default: Any = MISSING
    required: bool = False
    nullable: bool = False
    choices: tuple[str, ...] = ()
    item_types: tuple[str, ...] = ()  # JSON types a list's items may have

    @property
    def label(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def dom_id(self) -> str:
        return f"f-{dom_key(self.path)}"

    @property
    def error_id(self) -> str:
        return f"e-{dom_key(self.path)}"

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING


@dataclass(frozen=True)
class Section:
    path: str  # "" for a group of top-level leaves
    title: str
    help: str = ""
    fields: tuple[FormField, ...] = ()
    sections: tuple[Section, ...] = ()
    shown_when: tuple[str, str] | None = None  # (field path, value) that selects this block
    key: str = ""  # the DOM key of a leaf group, which has no path of its own

    @property
    def dom_key(self) -> str:
        return dom_key(self.path) if self.path else self.key

    @property
    def error_id(self) -> str:
        return f"e-{self.dom_key}"

    def walk(self) -> Iterator[Section]:
        yield self
        for section in self.sections:
            yield from section.walk()


# ---------------------------------------------------------------- building the form from the schema


def _unwrap(prop: dict) -> tuple[dict, bool]:
    """(the non-null alternative, nullable) of `X | None`; other unions are kept whole."""
    if "anyOf" not in prop:
        return prop, False
    options = [o for o in prop["anyOf"] if o.get("type") != "null"]
    nullable = len(options) < len(prop["anyOf"])
    return (options[0] if len(options) == 1 else {"anyOf": options}), nullable


def _scalar_types(schema: dict) -> tuple[str, ...]:
    """The scalar JSON types a schema allows, or () when it allows anything else."""
    if schema.get("type") in SCALAR_TYPES:
        return (schema["type"],)
    if "anyOf" in schema and all(o.get("type") in SCALAR_TYPES for o in schema["anyOf"]):
        return tuple(o["type"] for o in schema["anyOf"])
    return ()


def _kind(schema: dict, has_options: bool) -> tuple[str, tuple[str, ...]]:
    if "enum" in schema:
        return "choice", ()
    if schema.get("type") == "array" and (item_types := _scalar_types(schema.get("items", {}))):
        return ("multichoice" if has_options else "list"), item_types
    types = _scalar_types(schema)
    if len(types) == 1 and types[0] != "string":
        return types[0], ()
    if types:
        return ("choice" if has_options else "text"), types
    return "yaml", ()


def _empty(kind: str) -> Any:
    """The default of an optional field whose schema states none (a pydantic default_factory)."""
    return {"list": [], "multichoice": [], "text": ""}.get(kind)


class _Builder:
    def __init__(self, schema: dict, options: Mapping[str, list[str]]) -> None:
        self.defs = schema.get("$defs", {})
        self.options = options
        self.constants: dict[str, Any] = {}

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = self.defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def leaf(self, path: str, prop: dict, required: bool) -> FormField | None:
        inner, nullable = _unwrap(prop)
        inner = self.resolve(inner)
        if "const" in inner:
            self.constants[path] = inner["const"]
            return None
        kind, item_types = _kind(inner, path in self.options)
        choices = tuple(inner.get("enum", ())) or tuple(self.options.get(path, ()))
        default = MISSING if required else prop.get("default", _empty(kind))
        return FormField(
            path=path,
            kind=kind,
            help=prop.get("description") or inner.get("description", ""),
            default=default,
            required=required,
            nullable=nullable,
            choices=choices,
            item_types=item_types,
        )

    def section(self, path: str, prop: dict, model: dict, shown_when: tuple[str, str] | None) -> Section:
        required = set(model.get("required", ()))
        fields: list[FormField] = []
        blocks: list[tuple[str, dict, dict]] = []
        for name, child in model.get("properties", {}).items():
            child_model = self.resolve(_unwrap(child)[0])
            if "properties" in child_model:
                blocks.append((name, child, child_model))
            elif leaf := self.leaf(f"{path}.{name}", child, name in required):
                fields.append(leaf)
        # A block named like a value of this section's `name` choice holds that choice's settings.
        names = next((f.choices for f in fields if f.label == "name" and f.kind == "choice"), ())
        sections = tuple(
            self.section(
                f"{path}.{name}", child, child_model, (f"{path}.name", name) if name in names else None
            )
            for name, child, child_model in blocks
        )
        return Section(
            path=path,
            title=path.rsplit(".", 1)[-1],
            help=prop.get("description") or model.get("description", ""),
            fields=tuple(fields),
            sections=sections,
            shown_when=shown_when,
        )

    def top(self, schema: dict) -> list[Section]:
        """One section per top-level block; consecutive top-level leaves form a group of their own."""
        required = set(schema.get("required", ()))
        sections: list[Section] = []
        leaves: list[FormField] = []

        def close_group() -> None:
            if leaves:
                title = "general" if len(leaves) > 1 else leaves[0].label
                sections.append(Section(path="", title=title, fields=tuple(leaves), key=title))
                leaves.clear()

        for name, prop in schema["properties"].items():
            model = self.resolve(_unwrap(prop)[0])
            if "properties" in model:
                close_group()
                sections.append(self.section(name, prop, model, None))
            elif leaf := self.leaf(name, prop, name in required):
                leaves.append(leaf)
        close_group()
        return sections


# ---------------------------------------------------------------- values: posted text ↔ spec mapping


def _number(text: str) -> int | float | str:
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return text  # left for the spec's validation to report at this field


def _item(text: str, item_types: tuple[str, ...]) -> Any:
    if "integer" in item_types and re.fullmatch(r"-?\d+", text):
        return int(text)
    if "number" in item_types:
        return _number(text)
    return text


def _coerce(form_field: FormField, raw: str) -> Any:
    """The spec value a posted text stands for; MISSING = not given (the default applies)."""
    text = raw.strip()
    kind = form_field.kind
    if kind == "list":
        if not text:
            return None if form_field.nullable else []
        return [_item(part.strip(), form_field.item_types) for part in text.split(",") if part.strip()]
    if not text:
        return None if form_field.nullable else MISSING
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    if kind in ("integer", "number"):
        return _number(text)
    if kind == "yaml":
        try:
            return spec_yaml(text)
        except SpecError:
            return text  # the spec's validation then names this field
    if kind == "choice":
        # an enum of numbers (e.g. a sign, 1 or -1) posts its text: give back the value itself
        chosen = next((c for c in form_field.choices if str(c) == text), MISSING)
        if chosen is not MISSING:
            return chosen
        if form_field.item_types:
            return _item(text, form_field.item_types)
    return text


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return MISSING
        data = data[part]
    return data


def _set(data: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


class _SpecDumper(yaml.SafeDumper):
    """Mappings in block style, lists of scalars on one line (`suite: [math500, aime24]`)."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(isinstance(item, str | int | float | bool) or item is None for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_SpecDumper.add_representer(str, _represent_str)
_SpecDumper.add_representer(list, _represent_list)
_SpecDumper.add_representer(dict, _represent_dict)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, width=100)


def load_yaml(text: str) -> dict | None:
    """The mapping a YAML text holds, or None when it does not parse to one (or is over the spec's bounds)."""
    try:
        data = spec_yaml(text)
    except SpecError:
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- the form, bound to values and errors


@dataclass
class BoundField:
    field: FormField
    value: Any
    errors: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The value as the text input or textarea shows it."""
        value = self.value
        if value is MISSING or value is None:
            return ""
        if self.field.kind == "yaml":
            return dump_yaml(value).strip() if isinstance(value, dict | list) else str(value)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    @property
    def selected(self) -> list[str]:
        values = self.value if isinstance(self.value, list) else []
        return [str(v) for v in values]

    @property
    def options(self) -> list[str]:
        """The choices, plus the current value(s) when they are not among them (shown, then reported)."""
        options = list(self.field.choices)
        current = self.selected if self.field.kind == "multichoice" else [self.text]
        return options + [v for v in current if v and v not in options]

    @property
    def default_text(self) -> str:
        return BoundField(self.field, self.field.default).text


@dataclass
class BoundSection:
    section: Section
    fields: list[BoundField]
    sections: list[BoundSection]
    errors: list[str]


@dataclass
class BoundForm:
    sections: list[BoundSection]
    general_errors: list[str]
    slots: list[tuple[str, list[str]]]  # (error slot id, messages) for every slot, to refresh them all
    visibility: list[tuple[str, str, str]]  # (section DOM key, selecting field's DOM id, value)


class SpecForm:
    def __init__(self, schema: dict, options: Mapping[str, list[str]] | None = None) -> None:
        builder = _Builder(schema, options or {})
        self.sections = builder.top(schema)
        self.constants = builder.constants
        self.all_sections = [s for top in self.sections for s in top.walk()]
        self.fields = {f.path: f for s in self.all_sections for f in s.fields}

    def _selected(self, section: Section, values: Mapping[str, Any]) -> bool:
        if section.shown_when is None:
            return True
        path, value = section.shown_when
        chosen = values.get(path, MISSING)
        return (self.fields[path].default if chosen is MISSING else chosen) == value

    def data_from_post(self, post) -> dict:
        """A spec mapping from posted form fields: those that differ from their defaults, in schema order;
        a block selected by a `name` choice only while chosen (algorithm.grpo if algorithm.name is grpo)."""
        values: dict[str, Any] = {}
        for path, form_field in self.fields.items():
            if path not in post:
                continue
            if form_field.kind == "multichoice":
                values[path] = [v for v in post.getlist(path) if v]
            else:
                values[path] = _coerce(form_field, post.get(path, ""))
        data: dict = {}
        for path, value in self.constants.items():
            _set(data, path, value)
        unchosen = [s for s in self.all_sections if not self._selected(s, values)]
        for section in self.all_sections:
            if any(_within(section, block) for block in unchosen):
                continue
            for form_field in section.fields:
                value = values.get(form_field.path, MISSING)
                if value is not MISSING and value != form_field.default:
                    _set(data, form_field.path, value)
        return data

    def values_from_data(self, data: dict | None) -> dict[str, Any]:
        """Each field's value in a spec mapping (which may be invalid), its default where it has none."""
        values = {}
        for path, form_field in self.fields.items():
            value = _get(data or {}, path)
            values[path] = form_field.default if value is MISSING else value
        return values

    def names_under(self, parent: str) -> list[str]:
        """The keys a block (`parent`; "" for the top level) may hold: its fields' and sub-blocks' names."""
        paths = [*self.fields, *(s.path for s in self.all_sections if s.path), *self.constants]
        prefix = f"{parent}." if parent else ""
        return sorted(
            {p[len(prefix) :] for p in paths if p.startswith(prefix) and "." not in p[len(prefix) :]}
        )

    def anchor(self, path: str) -> str:
        """The field or section an error path is shown at: itself or its closest ancestor ("" = the form)."""
        parts = INDEX.sub("", path).split(".")
        sections = {s.path for s in self.all_sections}
        while parts:
            candidate = ".".join(parts)
            if candidate in self.fields or candidate in sections:
                return candidate
            parts.pop()
        return ""

    def bind(self, values: Mapping[str, Any], errors: list[FieldError]) -> BoundForm:
        placed: dict[str, list[str]] = {}
        for error in errors:
            anchor = self.anchor(error.path)
            exact = anchor and anchor == INDEX.sub("", error.path)
            placed.setdefault(anchor, []).append(error.message if exact else str(error))

        def bind_section(section: Section) -> BoundSection:
            return BoundSection(
                section=section,
                fields=[
                    BoundField(f, values.get(f.path, f.default), placed.get(f.path, []))
                    for f in section.fields
                ],
                sections=[bind_section(s) for s in section.sections],
                errors=placed.get(section.path, []) if section.path else [],
            )

        slots = [("e-general", placed.get("", []))]
        slots += [(s.error_id, placed.get(s.path, [])) for s in self.all_sections if s.path]
        slots += [(f.error_id, placed.get(f.path, [])) for f in self.fields.values()]
        visibility = [
            (s.dom_key, self.fields[s.shown_when[0]].dom_id, s.shown_when[1])
            for s in self.all_sections
            if s.shown_when
        ]
        return BoundForm([bind_section(s) for s in self.sections], placed.get("", []), slots, visibility)


def _within(section: Section, ancestor: Section) -> bool:
    """Whether `section` is `ancestor` or lies inside it."""
    return section.path == ancestor.path or section.path.startswith(f"{ancestor.path}.")
