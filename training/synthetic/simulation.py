"""Simulate declarations, past inspections, a watchlist and the hidden truth.

`simulate` runs the steps of DOMAIN.md in a fixed order, one module each:

1. `traffic`: days, segments (truck, van, car, bus, container, rail, air cargo, express,
   post), offices and routes, lodging hours;
2. `parties`: importers with a line of business and a size, exporters, customs brokers,
   hauliers with fleets, private travellers and consignees — persistent identities, so a
   trader has a history;
3. `goods`: tariff lines with their own value per kg, masses per vehicle, origins, duty,
   free-text descriptions;
4. threats planted through noisy, overlapping indicators (`weapons`, `migrants`,
   `revenue`, recorded in `truth`), with a small share of repeat offenders and drift in the
   last fifth of the period;
5. `watchlist`: partner agencies' entries with validity windows;
6. `selection`: past selection by rules plus a random share, each declaration's selection
   probability recorded; outcomes of the inspections, which miss some cases;
7. `languages`: a share of the descriptions rewritten in the office country's languages and
   scripts, from a generator of its own so that the share changes nothing else;

and, only when asked (`new_tactic`), after the threat steps: `tactic`, a new weapons tactic
starting mid-period (parts by post from a new origin), drawn from a generator of its own;

and `tables` assembles the four tables. Every step is vectorised numpy drawing from the one
seeded generator, and the steps run in this order, so a seed gives the same tables byte for
byte: changing the order, or a draw inside a step, changes every table after it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import numpy as np

from training.synthetic.goods import draw_goods
from training.synthetic.languages import LOCAL_LANGUAGE_SHARE, write_descriptions
from training.synthetic.migrants import plant_migrants
from training.synthetic.parties import draw_parties
from training.synthetic.revenue import plant_revenue
from training.synthetic.selection import select_and_inspect
from training.synthetic.tables import SyntheticData, assemble
from training.synthetic.tactic import NewTactic, plant_new_tactic
from training.synthetic.traffic import draw_traffic
from training.synthetic.truth import Truth, World
from training.synthetic.watchlist import build_watchlist
from training.synthetic.weapons import plant_weapons

DRIFT_SHARE = 0.2  # the last fifth of the period, where threats change their schemes
# Each threat step plants its cases into the world; revenue comes last because it leaves
# the rows that already carry weapons alone.
THREAT_STEPS: tuple[Callable[[np.random.Generator, World], None], ...] = (
    plant_weapons,
    plant_migrants,
    plant_revenue,
)


def simulate(
    *,
    start: date | str,
    days: int,
    seed: int,
    rows_per_day: int = 500,
    local_language_share: float = LOCAL_LANGUAGE_SHARE,
    new_tactic: NewTactic | None = None,
) -> SyntheticData:
    """Simulate `days * rows_per_day` declarations from `start`, reproducibly for `seed`.

    `local_language_share` of the descriptions are written in a language of the office's
    country (0: all English). `new_tactic` plants a weapons tactic that starts mid-period
    (`training.synthetic.tactic`); None, the default, leaves every table as it was.
    """
    if days < 1 or rows_per_day < 1:
        raise ValueError(f"days and rows_per_day must be at least 1, got {days} and {rows_per_day}")
    if not 0.0 <= local_language_share <= 1.0:
        raise ValueError(f"local_language_share must be within [0, 1], got {local_language_share}")
    start_day = date.fromisoformat(start) if isinstance(start, str) else start
    if isinstance(start_day, datetime):
        start_day = start_day.date()
    n = days * rows_per_day
    rng = np.random.default_rng(seed)
    # Spawning leaves `rng`'s stream as it is: every other draw is the same at any share.
    (language_rng,) = rng.spawn(1)
    drift_day = int(days * (1.0 - DRIFT_SHARE))

    traffic = draw_traffic(rng, start_day, days, n)
    parties = draw_parties(rng, traffic)
    goods = draw_goods(rng, traffic, parties)
    truth = Truth.nothing_planted(n)
    world = World(traffic, parties, goods, truth, days, drift_day)
    for plant in THREAT_STEPS:
        plant(rng, world)
    if new_tactic is not None:
        # A second spawned generator: the run's own stream, and so every existing
        # configuration's tables, stay as they are.
        (tactic_rng,) = rng.spawn(1)
        plant_new_tactic(tactic_rng, world, new_tactic)
    watchlist = build_watchlist(rng, start_day, days, traffic, parties, truth)
    inspections = select_and_inspect(rng, traffic, goods, truth, watchlist.hit)
    goods.description = write_descriptions(
        language_rng, goods.description, traffic.office_country, local_language_share
    ).text
    return assemble(rng, start_day, traffic, parties, goods, truth, inspections, watchlist.entries)
