import pytest

from strategy.services import DEFAULT_STRATEGY_PATH

# A strategy unlike the thesis one: other type codes (one that looks like a number),
# tramos, classifications (with a campaign), codes and values that need quoting.
SMALL_STRATEGY = """\
# a comment the dump drops
name: "Pequeña: prueba #1"
usd_rate: 3.8
management_types:
  - {code: M, name: Micro, max_exposure: 5000.50}
  - {code: "7", name: "Grandes: selectiva", max_exposure: null}
tramos:
  - {type: M, number: 1, from_day: 1, to_day: 15, max_visits: 2, daily_cap: 30}
  - {type: M, number: 2, from_day: 16, to_day: null, max_visits: 2, daily_cap: 30}
  - {type: "7", number: 1, from_day: 0, to_day: null, max_visits: 5, daily_cap: 5}
classifications:
  - {type: M, code: X, name: "yes", max_dpd: 15}
  - {type: M, code: Y, name: Malo, max_dpd: null}
  - {type: M, code: K, name: Campaña verano, max_dpd: null, campaign: true}
  - {type: "7", code: Z, name: Único, max_dpd: null}
results:
  - {type: M, code: 1, name: Promesa, promise: true}
  - {type: M, code: "02", name: "No: contacto", to_phone_days: 2}
  - {type: "7", code: R, name: Contacto}
events:
  - {code: 60, name: Incumplido}
  - {code: PG, name: Pago}
  - {code: TR, name: Salida}
actions:
  - {type: M, code: X1, classification: X, tramo: 1, visit: 1, where: home, whom: client,
     instrument: payment_promise, message: "Promesa: pagar", letter_template: null}
  - {type: M, code: X2, classification: X, tramo: 1, visit: 2, where: business,
     whom: guarantor, instrument: letter, message: 'Carta "final" #2', letter_template: carta_x}
  - {type: M, code: Y1, classification: Y, tramo: 2, visit: 1, where: work, whom: client,
     instrument: visit, message: Visita al trabajo}
  - {type: "7", code: "100", classification: Z, tramo: 1, visit: 1, where: home,
     whom: client, instrument: call, message: on}
bas:
  - {type: M, from: X1, on: 1, to: X1}
  - {type: M, from: X1, on: "60", to: X2}
  - {type: M, from: X2, on: TR, to: Y1}
  - {type: M, from: X2, on: PG, to: X1}
  - {type: "7", from: "100", on: R, to: "100"}
action_plans:
  - {type: M, tramo: 1, order: 1, channel: sms, from_day: 1, to_day: 2, template: hola}
  - {type: M, tramo: 2, order: 1, channel: visit, from_day: 16, to_day: 30}
escalation:
  - {level: 2, after_days: 1}
refinancing_products:
  - {code: R1, name: Corto, min_dpd: 1, max_dpd: null, max_term_months: 6, fee: 10.50,
     tea: 0.3, max_waiver_pct: {commissions: 0.5, late_interest: 1}}
commission_scheme: {effective_days: 5, per_cured_client: 12.5}
"""


@pytest.fixture
def default_text() -> str:
    return DEFAULT_STRATEGY_PATH.read_text(encoding="utf-8")


@pytest.fixture
def small_text() -> str:
    return SMALL_STRATEGY
