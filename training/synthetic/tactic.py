"""An optional new tactic: weapon parts by post from a new country, starting mid-period.

Off by default: `simulate` runs this step only when given a `NewTactic`, and then draws from
a generator of its own (spawned from the run's), so the tables of every existing
configuration stay byte for byte what they were.

From `start_day` on, online sellers in a country the data has never seen (`dispatch`, Hong
Kong by default) post 3D-printed pistol frames and parts (DOMAIN.md: "3D-printed components
and the printers/filament that make them"; "parts bought online travel by post and
express ... often first-time consignees") declared as toy parts and plastic model kits
(HS 9503) or as 3D-printer filament (HS 3916), made in China as such goods usually are
(`declared_origin`), small and light, at the usual value per kg of those lines, to private
first-time consignees, from a handful of new sellers. The same day the country opens as an
ordinary e-commerce hub (`cover_share` of parcel imports: their usual goods, from other new
sellers), so "posted from there" alone is no proof.

Nothing in these rows matches what the past rules look for (chapter 93, disguise codes from
US/TR, a watchlist hit) or what a model trained before `start_day` learned: the country of
dispatch and the sellers are new, the codes and the declared origin ordinary for parcels. A
risk profile written from an intelligence report naming the goods, codes and country finds
them at once; a model learns
them only from inspections that happen to find some, and only at its next retrain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synthetic import catalogue as cat
from training.synthetic.goods import COMMODITY_INDEX, set_duty, unit_values
from training.synthetic.identifiers import private_ids, scrambled, zero_padded
from training.synthetic.parties import Parties
from training.synthetic.traffic import IMPORT, SEGMENT, Traffic
from training.synthetic.truth import World, planted

SCHEME = "printed_parts_by_post"  # truth.weapons_scheme of the tactic's rows
# The disguises: (tariff line, share of the tactic's parcels).
DISGUISES: tuple[tuple[str, float], ...] = (("95030075", 0.65), ("39169050", 0.35))


@dataclass(frozen=True)
class NewTactic:
    """When, how often and from where the new tactic runs (see the module docstring).

    `start_day` counts from the first day of the period; `share` is the expected share of
    parcel imports (post and express) from `start_day` on that carry the tactic,
    `cover_share` the share that becomes ordinary traffic posted from `dispatch`; the
    tactic's goods declare `declared_origin`; `sellers` is the number of online sellers
    behind the tactic.
    """

    start_day: int
    share: float = 0.03
    dispatch: str = "HK"
    declared_origin: str = "CN"
    cover_share: float = 0.08
    sellers: int = 3

    def __post_init__(self) -> None:
        if self.start_day < 0:
            raise ValueError(f"start_day must be 0 or more, got {self.start_day}")
        if not (0.0 <= self.share <= 1.0 and 0.0 <= self.cover_share <= 1.0):
            raise ValueError(
                f"share and cover_share must be within [0, 1], got {self.share}, {self.cover_share}"
            )
        if self.share + self.cover_share > 1.0:
            raise ValueError("share + cover_share must not exceed 1")
        if self.sellers < 1:
            raise ValueError(f"sellers must be at least 1, got {self.sellers}")
        for name in ("dispatch", "declared_origin"):
            code = getattr(self, name)
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise ValueError(f"{name} must be an ISO alpha-2 code, got {code!r}")


def plant_new_tactic(rng: np.random.Generator, world: World, tactic: NewTactic) -> np.ndarray:
    """Plant the tactic (after the other threat steps); returns the rows that carry it.

    Only parcel imports from `start_day` with no other planted case change: a share of them
    becomes the tactic, another share ordinary parcels from the new country.
    """
    traffic, parties, goods, truth = world.traffic, world.parties, world.goods, world.truth
    clean = ~(
        planted(truth.weapons_scheme)
        | planted(truth.migrants_scheme)
        | planted(truth.revenue_scheme)
    )
    eligible = np.flatnonzero(
        traffic.is_segment("express", "postal")
        & (traffic.flow == IMPORT)
        & (traffic.day >= tactic.start_day)
        & clean
    )
    draw = rng.random(len(eligible))
    rows = eligible[draw < tactic.share]
    cover = eligible[(draw >= tactic.share) & (draw < tactic.share + tactic.cover_share)]
    for moved in (rows, cover):
        # Goods said to be made where they were posted now say the new country.
        made_there = moved[goods.origin[moved] == traffic.dispatch[moved]]
        goods.origin[made_there] = tactic.dispatch
        _ship_from(traffic, parties, tactic.dispatch, moved)
    parties.fresh["exporter"][cover] = _sellers(tactic.dispatch, 20, salt=1)[
        rng.integers(0, 20, len(cover))
    ]
    set_duty(traffic, goods, cover)

    truth.weapons_scheme[rows] = SCHEME
    codes = np.array([code for code, _ in DISGUISES], dtype=object)
    weights = np.array([weight for _, weight in DISGUISES])
    code = codes[rng.choice(len(codes), len(rows), p=weights / weights.sum())]
    goods.hs[rows] = [COMMODITY_INDEX[c] for c in code]
    texts = cat.PRINTED_PARTS_DESCRIPTIONS
    for line in np.unique(code):
        mine = rows[code == line]
        options = np.array(texts[line], dtype=object)
        goods.description[mine] = options[rng.integers(0, len(options), len(mine))]
    # A frame, a slide or a parts kit: under a kilogram or two, one package, declared at
    # the ordinary value of the line (nothing to flag in the value per kg).
    goods.net_mass[rows] = np.exp(np.log(0.7) + 0.5 * rng.standard_normal(len(rows))).clip(0.1, 5.0)
    goods.gross_mass[rows] = goods.net_mass[rows] * rng.uniform(1.1, 1.4, len(rows))
    goods.value[rows] = (
        goods.net_mass[rows]
        * unit_values(goods, rows)
        * np.exp(0.4 * rng.standard_normal(len(rows)))
    )
    goods.packages[rows] = 1
    goods.origin[rows] = tactic.declared_origin
    set_duty(traffic, goods, rows)
    # Private consignees, nearly all of them first-time; a few sellers ship again and again.
    parties.keys["importer"][rows] = -1
    parties.fresh["importer"][rows] = private_ids(rows, 6)
    parties.fresh["exporter"][rows] = _sellers(tactic.dispatch, tactic.sellers, salt=2)[
        rng.integers(0, tactic.sellers, len(rows))
    ]
    return rows


def _ship_from(traffic: Traffic, parties: Parties, country: str, rows: np.ndarray) -> None:
    """Re-route parcels to be posted in `country`: dispatch, itinerary, no known seller (the
    caller names the new one) and the post's tracking number, which ends with the country
    of posting."""
    traffic.dispatch[rows] = country
    listed = rows[np.array([i is not None for i in traffic.itinerary[rows]], dtype=bool)]
    traffic.itinerary[listed] = country + ">" + traffic.destination[listed]
    parties.keys["exporter"][rows] = -1
    postal = rows[traffic.segment[rows] == SEGMENT["postal"]]
    tracking = parties.fresh["vehicle"][postal]
    parties.fresh["vehicle"][postal] = np.array(
        [str(number)[:-2] + country for number in tracking], dtype=object
    )


def _sellers(country: str, count: int, salt: int) -> np.ndarray:
    """`count` seller ids of `country`, shaped like the other exporters' (country, EX, digits)
    and in a number range of their own (`salt`)."""
    numbers = scrambled(np.arange(count) + 10**6 * salt, 10**8, 8_675_309)
    return (country + "EX" + zero_padded(numbers, 8)).astype(object)
