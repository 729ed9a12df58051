"""The funnel definition: stages in order, who owns them, outcomes, aliases and SLAs.

The default is the demand waterfall (Lead → MQL → SAL → SQL → Opportunity, with
the outcomes Won, Lost, Disqualified and Recycled). A ``funnel.yaml`` next to a
dataset replaces it::

    stages:
      - {name: Lead, owner: marketing, aliases: [Inquiry, Subscriber]}
      - {name: MQL, owner: marketing}
      - {name: SAL, owner: sales}
      - {name: SQL, owner: sales}
      - {name: Opportunity, owner: sales}
    outcomes:
      - {name: Won, kind: won, owner: sales}
      - {name: Lost, kind: lost, owner: sales}
      - {name: Disqualified, kind: disqualified, owner: either}
      - {name: Recycled, kind: recycled, owner: marketing}
    aliases:            # CRM value -> canonical stage (case and punctuation are ignored)
      Closed Won: Won
    sla_hours:          # hand-off -> hours allowed
      MQL->SAL: 24

Examples
--------
>>> from funnel_models import Funnel
>>> funnel = Funnel.default()
>>> funnel.progression
('Lead', 'MQL', 'SAL', 'SQL', 'Opportunity')
>>> funnel.canonical_stage("Marketing Qualified Lead")
'MQL'
>>> funnel.owner("SAL")
'sales'
>>> funnel.sla_hours[("MQL", "SAL")]
24.0
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from funnel_models._errors import FunnelConfigError

__all__ = ["OUTCOME_KINDS", "OWNERS", "Funnel", "Stage"]

OWNERS = ("marketing", "sales", "either")
OUTCOME_KINDS = ("won", "lost", "disqualified", "recycled")


def normalize_stage_key(value: str) -> str:
    """Case-, space- and punctuation-insensitive key: 'Sales Qualified Lead' == 'salesqualifiedlead'."""
    return re.sub(r"[^0-9a-z]", "", str(value).casefold())


@dataclass(frozen=True)
class Stage:
    """One stage of the funnel.

    ``kind`` is ``None`` for a progression stage and one of :data:`OUTCOME_KINDS`
    for an outcome.
    """

    name: str
    owner: str
    kind: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def is_outcome(self) -> bool:
        return self.kind is not None


# The default funnel ships as package data (core/funnel.yaml), a file users can copy and edit.
_DEFAULT = yaml.safe_load(Path(__file__).with_name("funnel.yaml").read_text(encoding="utf-8"))

_TOP_KEYS = {"stages", "outcomes", "aliases", "sla_hours"}
_STAGE_KEYS = {"name", "owner", "aliases"}
_OUTCOME_KEYS = {"name", "owner", "aliases", "kind"}


@dataclass(frozen=True)
class Funnel:
    """Stages in order, their owners, outcomes, aliases and hand-off SLAs.

    Build it with :meth:`default`, :meth:`from_yaml` or :meth:`from_dict`.
    """

    stages: tuple[Stage, ...]
    sla_hours: Mapping[tuple[str, str], float] = field(default_factory=dict)
    extra_aliases: Mapping[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls) -> Funnel:
        """The demand waterfall of GUIDE §2."""
        return cls.from_dict(_DEFAULT)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Funnel:
        """Read and validate a ``funnel.yaml``."""
        path = Path(path)
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FunnelConfigError(f"{path}: file not found") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise FunnelConfigError(f"{path}{where}: not valid YAML") from None
        try:
            return cls.from_dict(spec)
        except FunnelConfigError as exc:
            raise FunnelConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, spec: Any) -> Funnel:
        """Validate a funnel specification (the parsed YAML) and build the Funnel."""
        if not isinstance(spec, Mapping):
            raise FunnelConfigError("a funnel definition must be a mapping with a 'stages' key")
        _reject_unknown_keys(spec, _TOP_KEYS, "top level")
        raw_stages = spec.get("stages")
        if not raw_stages:
            raise FunnelConfigError("'stages' must list at least one stage")
        stages = [_parse_stage(s, i, outcome=False) for i, s in enumerate(raw_stages)]
        raw_outcomes = spec.get("outcomes", _DEFAULT["outcomes"])
        stages += [_parse_stage(s, i, outcome=True) for i, s in enumerate(raw_outcomes or [])]

        seen: dict[str, str] = {}
        for stage in stages:
            key = normalize_stage_key(stage.name)
            if key in seen:
                raise FunnelConfigError(
                    f"duplicate stage {stage.name!r} (already defined as {seen[key]!r})"
                )
            seen[key] = stage.name
        if not any(s.kind == "won" for s in stages):
            raise FunnelConfigError("outcomes must include one stage of kind 'won'")
        names = [s.name for s in stages]

        extra = spec.get("aliases") or {}
        if not isinstance(extra, Mapping):
            raise FunnelConfigError("'aliases' must map a CRM value to a stage name")
        extra_aliases = {}
        for alias, target in extra.items():
            if target not in names:
                raise FunnelConfigError(
                    f"alias {alias!r} points to {target!r}, which is not a stage"
                    + _did_you_mean(str(target), names)
                )
            extra_aliases[str(alias)] = target

        sla = {}
        for key, hours in (spec.get("sla_hours") or {}).items():
            parts = [p.strip() for p in str(key).split("->")]
            if len(parts) != 2:
                raise FunnelConfigError(f"sla_hours key {key!r} must look like 'MQL->SAL'")
            for part in parts:
                if part not in names:
                    raise FunnelConfigError(
                        f"sla_hours key {key!r} names {part!r}, which is not a stage"
                        + _did_you_mean(part, names)
                    )
            try:
                value = float(hours)
            except (TypeError, ValueError):
                raise FunnelConfigError(f"sla_hours[{key!r}] must be a number of hours") from None
            if not value > 0:
                raise FunnelConfigError(f"sla_hours[{key!r}] must be positive, got {hours!r}")
            sla[(parts[0], parts[1])] = value

        funnel = cls(stages=tuple(stages), sla_hours=sla, extra_aliases=extra_aliases)
        funnel._check_alias_clashes()
        return funnel

    def to_dict(self) -> dict[str, Any]:
        """The specification, ready for ``yaml.safe_dump``; ``from_dict`` round-trips it."""

        def entry(s: Stage) -> dict[str, Any]:
            out: dict[str, Any] = {"name": s.name, "owner": s.owner}
            if s.kind:
                out["kind"] = s.kind
            if s.aliases:
                out["aliases"] = list(s.aliases)
            return out

        return {
            "stages": [entry(s) for s in self.stages if not s.is_outcome],
            "outcomes": [entry(s) for s in self.stages if s.is_outcome],
            "aliases": dict(self.extra_aliases),
            "sla_hours": {f"{a}->{b}": h for (a, b), h in self.sla_hours.items()},
        }

    # ------------------------------------------------------------------ queries
    @property
    def progression(self) -> tuple[str, ...]:
        """Progression stages in funnel order (outcomes excluded)."""
        return tuple(s.name for s in self.stages if not s.is_outcome)

    @property
    def outcomes(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.is_outcome)

    @property
    def names(self) -> tuple[str, ...]:
        """All stage names: progression first, then outcomes."""
        return tuple(s.name for s in self.stages)

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"{name!r} is not a stage of this funnel" + _did_you_mean(name, self.names))

    def owner(self, name: str) -> str:
        """The team that owns a stage: 'marketing', 'sales' or 'either'."""
        return self.stage(name).owner

    def outcome_stage(self, kind: str) -> str | None:
        """Name of the outcome stage of a kind ('won', 'lost', ...), or None."""
        for s in self.stages:
            if s.kind == kind:
                return s.name
        return None

    def rank(self, name: str) -> int:
        """Position in the progression (0 = first); outcomes rank after every stage."""
        order = self.names
        return order.index(name)

    @property
    def alias_map(self) -> dict[str, str]:
        """Normalised CRM value → canonical stage name."""
        mapping: dict[str, str] = {}
        for s in self.stages:
            mapping[normalize_stage_key(s.name)] = s.name
            for alias in s.aliases:
                mapping[normalize_stage_key(alias)] = s.name
        for alias, target in self.extra_aliases.items():
            mapping[normalize_stage_key(alias)] = target
        return mapping

    def canonical_stage(self, value: Any) -> str | None:
        """The canonical stage for a CRM value, or None when it is unknown."""
        if value is None:
            return None
        return self.alias_map.get(normalize_stage_key(value))

    def suggest(self, value: Any) -> str | None:
        """The closest known stage or alias for an unknown value (for error messages)."""
        mapping = self.alias_map
        spellings = {normalize_stage_key(n): n for n in self.names}
        for s in self.stages:
            spellings.update({normalize_stage_key(a): a for a in s.aliases})
        spellings.update({normalize_stage_key(a): a for a in self.extra_aliases})
        match = difflib.get_close_matches(
            normalize_stage_key(value), list(mapping), n=1, cutoff=0.6
        )
        if not match:
            return None
        spelled = spellings[match[0]]
        target = mapping[match[0]]
        return spelled if spelled == target else f"{spelled} (→ {target})"

    # ------------------------------------------------------------------ internals
    def _check_alias_clashes(self) -> None:
        owner_of: dict[str, str] = {}
        for s in self.stages:
            for value in (s.name, *s.aliases):
                key = normalize_stage_key(value)
                if key in owner_of and owner_of[key] != s.name:
                    raise FunnelConfigError(
                        f"{value!r} is used by both {owner_of[key]!r} and {s.name!r}; "
                        "a name or alias may point to one stage only"
                    )
                owner_of[key] = s.name

    def __repr__(self) -> str:
        sla = ", ".join(f"{a}->{b} {h:g} h" for (a, b), h in self.sla_hours.items())
        return (
            f"Funnel({' → '.join(self.progression)}; outcomes {', '.join(self.outcomes)}"
            + (f"; SLA {sla}" if sla else "")
            + ")"
        )


def _reject_unknown_keys(spec: Mapping, allowed: set[str], where: str) -> None:
    unknown = [k for k in spec if k not in allowed]
    if unknown:
        key = str(unknown[0])
        raise FunnelConfigError(
            f"unknown key {key!r} at {where}" + _did_you_mean(key, sorted(allowed))
        )


def _parse_stage(raw: Any, index: int, *, outcome: bool) -> Stage:
    section = "outcomes" if outcome else "stages"
    where = f"{section}[{index}]"
    if isinstance(raw, str):
        raw = {"name": raw, "owner": "sales" if outcome else "marketing"}
    if not isinstance(raw, Mapping):
        raise FunnelConfigError(f"{where} must be a mapping with 'name' and 'owner'")
    _reject_unknown_keys(raw, _OUTCOME_KEYS if outcome else _STAGE_KEYS, where)
    name = raw.get("name")
    if not name or not isinstance(name, str):
        raise FunnelConfigError(f"{where} has no 'name'")
    owner = raw.get("owner", "either" if outcome else None)
    if owner not in OWNERS:
        raise FunnelConfigError(f"{where} ({name}): owner must be one of {', '.join(OWNERS)}")
    kind = None
    if outcome:
        kind = raw.get("kind")
        if kind not in OUTCOME_KINDS:
            raise FunnelConfigError(
                f"{where} ({name}): kind must be one of {', '.join(OUTCOME_KINDS)}"
            )
    aliases = raw.get("aliases") or []
    if isinstance(aliases, str) or not isinstance(aliases, Iterable):
        raise FunnelConfigError(f"{where} ({name}): aliases must be a list")
    return Stage(name=name, owner=owner, kind=kind, aliases=tuple(str(a) for a in aliases))


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""
