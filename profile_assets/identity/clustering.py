"""Links -> profiles: connected components, with guards against over-merging.

Plain connected components over accepted links are right for almost every cluster, and they
are computed for all records at once (scipy). Only components that break a guard — too many
records, too many emails or phones, two birth dates that are not typos of each other, two
different link ids, or a never-link pair — are rebuilt greedily: links are replayed strongest
first and a link is refused when the merge it would make breaks a guard. Conflicting strong
identifiers are bridged only by a *strong* link (see `ResolutionSettings`), never by chains of
weaker ones; must-link overrides go first and bypass every guard except never-link.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz.distance import DamerauLevenshtein
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from profile_assets.identity.features import Features

REASON_SIZE = "max_cluster_size"
REASON_EMAILS = "max_emails_per_profile"
REASON_PHONES = "max_phones_per_profile"
REASON_DOB = "conflicting_date_of_birth"
REASON_LINK = "conflicting_link_id"
REASON_FIRST_NAME = "conflicting_first_name"
REASON_NEVER = "never_link_override"


@dataclass(frozen=True)
class Guards:
    max_cluster_size: int
    max_emails: int
    max_phones: int


@dataclass(frozen=True)
class Links:
    """Accepted links. `strong` links may bridge conflicting identifiers; `forced` ones are
    must-link overrides. `pair_index` points into the scored candidate pairs (-1 if forced)."""

    left: np.ndarray
    right: np.ndarray
    probability: np.ndarray
    strong: np.ndarray
    forced: np.ndarray
    pair_index: np.ndarray


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray
    refused: pd.DataFrame  # left, right (record indices), probability, reason
    guarded_components: int


def cluster(
    features: Features,
    links: Links,
    never: tuple[np.ndarray, np.ndarray],
    guards: Guards,
) -> Clustering:
    n = features.n
    components = _components(n, links.left, links.right)
    flagged = _flag_components(features, components, never, guards)
    in_flagged = flagged[components]
    labels = components.astype(np.int64)
    refused = pd.DataFrame(
        {"left": pd.Series(dtype=np.int64), "right": pd.Series(dtype=np.int64),
         "probability": pd.Series(dtype=float), "reason": pd.Series(dtype=object)}
    )  # fmt: skip
    if flagged.any():
        edge_mask = in_flagged[links.left]
        roots, refused = _greedy(features, links, edge_mask, never, guards, in_flagged)
        labels = np.where(in_flagged, len(flagged) + roots, labels)
    _, dense = np.unique(labels, return_inverse=True)
    return Clustering(dense.astype(np.int64), refused, int(flagged.sum()))


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _distinct_per_component(components: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    present = codes >= 0
    width = codes.max(initial=-1) + 2  # > every code, and >= 1 when there are none
    pairs = np.unique(components[present].astype(np.int64) * width + codes[present])
    return np.bincount(pairs // width, minlength=k)


def _flag_components(
    features: Features, components: np.ndarray, never: tuple[np.ndarray, np.ndarray], g: Guards
) -> np.ndarray:
    k = int(components.max()) + 1 if len(components) else 0
    f = features.fields

    def distinct(name: str) -> np.ndarray:
        return _distinct_per_component(components, f[name].codes, k)

    flagged = (
        (np.bincount(components, minlength=k) > g.max_cluster_size)
        | (distinct("email") > g.max_emails)
        | (distinct("phone") > g.max_phones)
        | (distinct("dob") > 1)
        | (distinct("link_id") > 1)
    )
    same = components[never[0]] == components[never[1]]
    flagged[components[never[0][same]]] = True
    return flagged


class _Profile:
    """Guard state of one growing cluster in the greedy rebuild."""

    __slots__ = ("members", "emails", "phones", "dobs", "links")

    def __init__(self, record: int, features: Features) -> None:
        f = features.fields

        def one(name: str) -> set:
            code = int(f[name].codes[record])
            return {code} if code >= 0 else set()

        self.members = [record]
        self.emails, self.phones, self.links = one("email"), one("phone"), one("link_id")
        self.dobs = {f["dob"].values[c] for c in one("dob")}

    def absorb(self, other: _Profile) -> None:
        self.members += other.members
        self.emails |= other.emails
        self.phones |= other.phones
        self.links |= other.links
        self.dobs |= other.dobs


def _dates_compatible(a: set[str], b: set[str]) -> bool:
    """Birth dates conflict unless equal, one digit typed or transposed, or day/month swapped."""
    return all(
        DamerauLevenshtein.distance(x, y) <= 1
        or (x[:4] == y[:4] and x[5:7] == y[8:] and x[8:] == y[5:7])
        for x in a
        for y in b
    )


def _refusal(a: _Profile, b: _Profile, bridge: tuple[bool, bool], g: Guards) -> str | None:
    """Why merging a and b would break a guard, or None. `bridge` says, per identifier (birth
    date, link id), whether this link may join clusters that disagree on it."""
    if len(a.members) + len(b.members) > g.max_cluster_size:
        return REASON_SIZE
    if len(a.emails | b.emails) > g.max_emails:
        return REASON_EMAILS
    if len(a.phones | b.phones) > g.max_phones:
        return REASON_PHONES
    if not bridge[0] and not _dates_compatible(a.dobs, b.dobs):
        return REASON_DOB
    if not bridge[1] and len(a.links | b.links) > 1:
        return REASON_LINK
    return None


def _may_bridge(features: Features, links: Links, e: int) -> tuple[bool, bool]:
    """Whether link e may join clusters that disagree on (birth date, link id).

    Only strong links ever bridge. A birth date is a fact about a person, so two dates are
    bridged only when both records of the link hold one: they were compared directly and
    still matched; a chain through a record without a date never bridges. A link id names an
    account, and one person may open two, so any strong link bridges those.
    """
    if not links.strong[e]:
        return False, False
    pair = [int(links.left[e]), int(links.right[e])]
    return bool((features.fields["dob"].codes[pair] >= 0).all()), True


def _greedy(
    features: Features,
    links: Links,
    edge_mask: np.ndarray,
    never: tuple[np.ndarray, np.ndarray],
    guards: Guards,
    in_flagged: np.ndarray,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Union-find over the flagged components' links, strongest first, refusing bad merges."""
    parent = np.arange(features.n)
    profiles: dict[int, _Profile] = {}
    never_of: dict[int, set[int]] = {}
    for a, b in zip(never[0].tolist(), never[1].tolist(), strict=True):
        never_of.setdefault(a, set()).add(b)
        never_of.setdefault(b, set()).add(a)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def profile(root: int) -> _Profile:
        if root not in profiles:
            profiles[root] = _Profile(root, features)
        return profiles[root]

    idx = np.nonzero(edge_mask)[0]
    order = np.lexsort((links.right[idx], links.left[idx], -links.probability[idx],
                        ~links.forced[idx]))  # fmt: skip
    refused = []
    for e in idx[order].tolist():
        ra, rb = find(int(links.left[e])), find(int(links.right[e]))
        if ra == rb:
            continue
        a, b = profile(ra), profile(rb)
        members_b = set(b.members)
        if any(never_of.get(m, set()) & members_b for m in a.members):
            reason = REASON_NEVER
        elif links.forced[e]:
            reason = None
        else:
            reason = _refusal(a, b, _may_bridge(features, links, e), guards)
        if reason:
            refused.append(
                (int(links.left[e]), int(links.right[e]), float(links.probability[e]), reason)
            )
            continue
        if len(a.members) < len(b.members):
            ra, rb, a, b = rb, ra, b, a
        parent[rb] = ra
        a.absorb(b)
        del profiles[rb]
    roots = np.arange(features.n)
    for i in np.nonzero(in_flagged)[0].tolist():
        roots[i] = find(i)
    frame = pd.DataFrame(refused, columns=["left", "right", "probability", "reason"])
    return roots, frame
