"""A realistic synthetic portfolio: a snapshot (DOMAIN.md 7.1) and its organisation (7.5).

`generate_portfolio` writes a core-banking snapshot of N credits and the
organisation file that makes it loadable: zones, agencies in real Peruvian
cities, subzones, 200 m quadrants, asesores, external agencies and the people
above them. Every code the CSV names exists in the YAML.

Speed matters (the 1,000,000-credit benchmark): every random draw is a numpy
array made once, up front, in a fixed order (so the same seed gives the same
bytes whatever the chunk size), and the CSV is assembled per chunk as a byte
matrix. Each column is a fixed-width `S` array (null padded) scattered into the
row at a per-row offset, and the rows are then packed by dropping the padding.
There is no Python object per field, only per vocabulary word.

Geography: one global grid of 200 m cells (row i spans a band of latitude,
the cell width in longitude follows that band's latitude), so cells of
neighbouring agencies never overlap. Each agency owns the cells within a radius
sized to its clients that are closer to it than to any other agency (Voronoi);
its subzones are k-means clusters of those cells. A client's point lies in the
inner 80 % of its cell, so the importer's point-in-quadrant lookup is unambiguous.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from portfolio.snapshot import COLUMNS as SNAPSHOT_COLUMNS

# The snapshot contract (DOMAIN.md 7.1), in the importer's order.
COLUMNS = tuple(column.name for column in SNAPSHOT_COLUMNS)

CHUNK_ROWS = 100_000  # rows formatted and written at a time
JOIN_BLOCK_ROWS = 16_384
QUADRANT_SIZE_M = 200
METRES_PER_DEGREE = 111_320.0
USD_RATE = 3.75  # the shipped strategy's rate; only used to size USD credits
EXPOSURE_B = 30_000  # the shipped strategy's A/B threshold, for the tests' sake
CLIENTS_PER_QUADRANT = 15  # sizes each agency's territory

# --- Vocabulary --------------------------------------------------------------------------

# (name, zone, lat, lon, weight). Within a zone, the busiest place first.
AGENCY_POOL: tuple[tuple[str, str, float, float, float], ...] = (
    ("Comas", "Lima Norte", -11.9378, -77.0506, 1.3),
    ("San Martín de Porres", "Lima Norte", -12.0050, -77.0850, 1.3),
    ("Los Olivos", "Lima Norte", -11.9925, -77.0700, 1.2),
    ("Independencia", "Lima Norte", -11.9906, -77.0522, 1.0),
    ("Carabayllo", "Lima Norte", -11.8627, -77.0355, 0.9),
    ("Puente Piedra", "Lima Norte", -11.8661, -77.0747, 1.0),
    ("Rímac", "Lima Norte", -12.0288, -77.0294, 0.8),
    ("Ancón", "Lima Norte", -11.7740, -77.1760, 0.6),
    ("San Juan de Lurigancho", "Lima Este", -11.9773, -77.0046, 1.6),
    ("Ate", "Lima Este", -12.0256, -76.9180, 1.3),
    ("Santa Anita", "Lima Este", -12.0439, -76.9706, 1.0),
    ("El Agustino", "Lima Este", -12.0439, -76.9989, 0.9),
    ("San Luis", "Lima Este", -12.0764, -76.9948, 0.7),
    ("La Molina", "Lima Este", -12.0872, -76.9247, 0.7),
    ("Chaclacayo", "Lima Este", -11.9753, -76.7694, 0.6),
    ("Chosica", "Lima Este", -11.9431, -76.7094, 0.7),
    ("Villa El Salvador", "Lima Sur", -12.2131, -76.9367, 1.3),
    ("Villa María del Triunfo", "Lima Sur", -12.1614, -76.9406, 1.2),
    ("San Juan de Miraflores", "Lima Sur", -12.1575, -76.9689, 1.1),
    ("Chorrillos", "Lima Sur", -12.1689, -77.0150, 1.0),
    ("Lurín", "Lima Sur", -12.2744, -76.8700, 0.7),
    ("Pachacámac", "Lima Sur", -12.2297, -76.8589, 0.7),
    ("Santiago de Surco", "Lima Sur", -12.1450, -76.9920, 0.8),
    ("La Victoria", "Lima Centro y Callao", -12.0650, -77.0180, 1.2),
    ("Callao", "Lima Centro y Callao", -12.0566, -77.1181, 1.2),
    ("Cercado de Lima", "Lima Centro y Callao", -12.0464, -77.0428, 1.1),
    ("Ventanilla", "Lima Centro y Callao", -11.8750, -77.1333, 1.0),
    ("Breña", "Lima Centro y Callao", -12.0590, -77.0510, 0.7),
    ("San Miguel", "Lima Centro y Callao", -12.0770, -77.0900, 0.7),
    ("Surquillo", "Lima Centro y Callao", -12.1130, -77.0190, 0.6),
    ("Bellavista", "Lima Centro y Callao", -12.0620, -77.1050, 0.6),
    ("Trujillo", "Norte", -8.1116, -79.0288, 1.4),
    ("La Esperanza", "Norte", -8.0767, -79.0444, 1.0),
    ("El Porvenir", "Norte", -8.0797, -79.0019, 0.9),
    ("Chimbote", "Norte", -9.0745, -78.5936, 1.1),
    ("Cajamarca", "Norte", -7.1638, -78.5003, 1.1),
    ("Huaraz", "Norte", -9.5278, -77.5278, 0.9),
    ("Nuevo Chimbote", "Norte", -9.1200, -78.5200, 0.7),
    ("Chepén", "Norte", -7.2272, -79.4297, 0.6),
    ("Chiclayo", "Noroeste", -6.7714, -79.8409, 1.3),
    ("Piura", "Noroeste", -5.1945, -80.6328, 1.3),
    ("Sullana", "Noroeste", -4.9039, -80.6853, 1.0),
    ("José Leonardo Ortiz", "Noroeste", -6.7560, -79.8370, 0.9),
    ("Castilla", "Noroeste", -5.1960, -80.6200, 0.8),
    ("Tumbes", "Noroeste", -3.5669, -80.4515, 0.9),
    ("Lambayeque", "Noroeste", -6.7011, -79.9061, 0.7),
    ("Talara", "Noroeste", -4.5772, -81.2719, 0.7),
    ("Paita", "Noroeste", -5.0892, -81.1144, 0.6),
    ("Arequipa", "Sur", -16.3989, -71.5350, 1.5),
    ("Tacna", "Sur", -18.0146, -70.2536, 1.2),
    ("Cerro Colorado", "Sur", -16.3800, -71.5600, 1.0),
    ("Paucarpata", "Sur", -16.4300, -71.5000, 1.0),
    ("Gregorio Albarracín", "Sur", -18.0450, -70.2500, 0.9),
    ("Mariano Melgar", "Sur", -16.4050, -71.5070, 0.8),
    ("Moquegua", "Sur", -17.1956, -70.9353, 0.7),
    ("Ilo", "Sur", -17.6394, -71.3375, 0.7),
    ("Camaná", "Sur", -16.6228, -72.7111, 0.6),
    ("Cusco", "Sur Andino", -13.5319, -71.9675, 1.2),
    ("Juliaca", "Sur Andino", -15.5000, -70.1333, 1.2),
    ("Puno", "Sur Andino", -15.8402, -70.0219, 1.0),
    ("Wanchaq", "Sur Andino", -13.5250, -71.9600, 0.8),
    ("Abancay", "Sur Andino", -13.6339, -72.8814, 0.8),
    ("Sicuani", "Sur Andino", -14.2694, -71.2261, 0.7),
    ("Andahuaylas", "Sur Andino", -13.6556, -73.3872, 0.7),
    ("San Sebastián", "Sur Andino", -13.5320, -71.9330, 0.7),
    ("Quillabamba", "Sur Andino", -12.8681, -72.6917, 0.6),
    ("Huancayo", "Centro", -12.0651, -75.2049, 1.2),
    ("El Tambo", "Centro", -12.0550, -75.2150, 1.0),
    ("Huánuco", "Centro", -9.9306, -76.2422, 1.0),
    ("Ayacucho", "Centro", -13.1588, -74.2239, 1.0),
    ("Chilca", "Centro", -12.0850, -75.1990, 0.8),
    ("Tarma", "Centro", -11.4194, -75.6900, 0.7),
    ("Jauja", "Centro", -11.7750, -75.5000, 0.6),
    ("La Merced", "Centro", -11.0545, -75.3269, 0.7),
    ("Satipo", "Centro", -11.2522, -74.6386, 0.7),
    ("Cerro de Pasco", "Centro", -10.6828, -76.2561, 0.6),
    ("Huanta", "Centro", -12.9390, -74.2478, 0.6),
    ("Huancavelica", "Centro", -12.7861, -74.9764, 0.6),
    ("La Oroya", "Centro", -11.5189, -75.8994, 0.5),
    ("Iquitos", "Oriente", -3.7491, -73.2538, 1.2),
    ("Pucallpa", "Oriente", -8.3791, -74.5539, 1.2),
    ("Punchana", "Oriente", -3.7280, -73.2450, 0.8),
    ("Yarinacocha", "Oriente", -8.3500, -74.5800, 0.8),
    ("Belén", "Oriente", -3.7640, -73.2470, 0.7),
    ("San Juan Bautista", "Oriente", -3.7700, -73.2800, 0.7),
    ("Tingo María", "Oriente", -9.2950, -75.9975, 0.7),
    ("Puerto Maldonado", "Oriente", -12.5933, -69.1891, 0.7),
    ("Tarapoto", "Nororiente", -6.4825, -76.3650, 1.1),
    ("Moyobamba", "Nororiente", -6.0342, -76.9717, 0.8),
    ("Jaén", "Nororiente", -5.7083, -78.8083, 0.9),
    ("Yurimaguas", "Nororiente", -5.8967, -76.1067, 0.6),
    ("Juanjuí", "Nororiente", -7.1764, -76.7264, 0.6),
    ("Bagua Grande", "Nororiente", -5.7570, -78.4440, 0.6),
    ("Ica", "Sur Medio", -14.0678, -75.7286, 1.1),
    ("Chincha Alta", "Sur Medio", -13.4099, -76.1323, 0.9),
    ("Cañete", "Sur Medio", -13.0775, -76.3872, 0.8),
    ("Pisco", "Sur Medio", -13.7103, -76.2054, 0.7),
    ("Nazca", "Sur Medio", -14.8309, -74.9389, 0.6),
    ("Huacho", "Lima Provincias", -11.1067, -77.6050, 0.9),
    ("Huaral", "Lima Provincias", -11.4956, -77.2078, 0.8),
    ("Barranca", "Lima Provincias", -10.7539, -77.7611, 0.7),
)

# The Pacific coast, north to south (lat, lon), coarse: a cell west of it is at sea.
COAST = (
    (-3.40, -80.30), (-3.57, -80.50), (-3.68, -80.68), (-4.10, -81.05), (-4.58, -81.285),
    (-5.09, -81.125), (-5.60, -80.87), (-6.84, -79.945), (-7.40, -79.575), (-8.08, -79.125),
    (-8.23, -78.985), (-9.08, -78.612), (-9.47, -78.385), (-10.07, -78.165),
    (-10.75, -77.775), (-11.11, -77.618), (-11.57, -77.27), (-11.77, -77.18),
    (-11.87, -77.155), (-12.05, -77.145), (-12.08, -77.10), (-12.12, -77.045),
    (-12.17, -77.03), (-12.20, -76.99), (-12.25, -76.93), (-12.29, -76.88), (-12.48, -76.80),
    (-13.08, -76.42), (-13.42, -76.20), (-13.71, -76.225), (-14.20, -76.10),
    (-14.70, -75.60), (-15.35, -75.16), (-15.85, -74.50), (-16.22, -73.70),
    (-16.62, -72.73), (-17.02, -72.015), (-17.64, -71.345), (-18.00, -70.90),
    (-18.35, -70.38),
)  # fmt: skip
# Lake Titicaca and the Amazon: an agency's cells east of this longitude are water.
WATER_EAST = {
    "Puno": -70.015,
    "Iquitos": -73.236,
    "Punchana": -73.236,
    "Belén": -73.236,
    "San Juan Bautista": -73.236,
}

# The order in which zones contribute agencies, so a small portfolio still spans
# several regions (4 agencies: Comas, Arequipa, Trujillo, San Juan de Lurigancho).
ZONE_ROUND_ROBIN = (
    "Lima Norte",
    "Sur",
    "Norte",
    "Lima Este",
    "Centro",
    "Lima Sur",
    "Oriente",
    "Noroeste",
    "Lima Centro y Callao",
    "Sur Andino",
    "Nororiente",
    "Sur Medio",
    "Lima Provincias",
)

GIVEN_NAMES = (
    # female
    "María", "Rosa", "Juana", "Carmen", "Ana", "Luz", "Elena", "Marleny", "Yolanda",
    "Gladys", "Flor", "Maribel", "Nancy", "Sonia", "Julia", "Lucía", "Teresa", "Marisol",
    "Milagros", "Rocío", "Patricia", "Silvia", "Norma", "Betty", "Doris", "Delia", "Eva",
    "Isabel", "Janet", "Karina", "Lourdes", "Magaly", "Mercedes", "Olga", "Pilar",
    "Raquel", "Ruth", "Sandra", "Susana", "Vilma", "Yesenia", "Zulema", "Haydée",
    "Nélida", "Fortunata", "Eusebia", "Hilda", "Jesusa", "Aurora", "Edith",
    # male
    "José", "Juan", "Luis", "Carlos", "Jorge", "Pedro", "Víctor", "Miguel", "César",
    "Julio", "Walter", "Edwin", "Wilber", "Raúl", "Alberto", "Freddy", "Ronald", "Javier",
    "Marco", "Hugo", "Óscar", "Fernando", "Ricardo", "Roberto", "Manuel", "Mario", "Félix",
    "Teodoro", "Alejandro", "Segundo", "Percy", "Nilo", "Elmer", "Wilfredo", "Eduardo",
    "Jhon", "Henry", "Abel", "Rubén", "Santos", "Gregorio", "Néstor", "Hernán", "Rolando",
    "Iván", "Daniel", "Saúl", "Efraín", "Lucio", "Ángel",
)  # fmt: skip

SURNAMES = (
    # the most frequent first: the draw is Zipf-like
    "Quispe", "Flores", "Sánchez", "Rodríguez", "García", "Rojas", "Huamán", "Mamani",
    "Gonzales", "Chávez", "Ramírez", "Torres", "Díaz", "Vásquez", "Mendoza", "Ramos",
    "Castillo", "Espinoza", "López", "Vargas", "Condori", "Romero", "Cruz", "Ríos",
    "Gutiérrez", "Pérez", "Fernández", "Hernández", "Morales", "Salazar", "Reyes",
    "Medina", "Castro", "Silva", "Aguilar", "Herrera", "Martínez", "Jiménez", "Ruiz",
    "Alvarado", "Córdova", "Cárdenas", "Campos", "Vega", "Choque", "Apaza", "Ticona",
    "Guerrero", "Delgado", "Muñoz", "Núñez", "Paredes", "Soto", "Palacios", "Zapata",
    "Carrasco", "Benites", "Valdivia", "Cabrera", "Salas", "Acosta", "Peña", "León",
    "Lozano", "Miranda", "Cáceres", "Bravo", "Arias", "Velásquez", "Rivera", "Sosa",
    "Huanca", "Ccama", "Cusi", "Yupanqui", "Chambi", "Coaquira", "Pari", "Layme",
    "Calla", "Ccahuana", "Huaranga", "Ancco", "Cutipa", "Chura", "Limachi", "Nina",
    "Paucar", "Poma", "Sucasaire", "Taipe", "Tito", "Vilca", "Yauri", "Huayta", "Inga",
    "Mayta", "Callo", "Cahuana", "Huarcaya", "Ccopa", "Ñaupari", "Cóndor", "Huillca",
    "Quille", "Sulca", "Pumacayo", "Chipana", "Colque", "Tupa", "Marín", "Ortiz",
    "Tapia", "Villanueva", "Zevallos", "Contreras", "Cueva", "Escobar", "Fuentes",
    "Gómez", "Lázaro", "Ponce", "Valverde", "Villegas", "Zúñiga", "Arévalo", "Bautista",
    "Cornejo", "Durand", "Farfán", "Gamarra", "Ibáñez", "Lara", "Montalvo", "Navarro",
    "Olivares", "Pacheco", "Quiroz", "Rosales", "Santos", "Tello", "Urbina", "Valencia",
    "Yépez", "Zárate", "Alarcón", "Becerra", "Cotrina", "Chumpitaz", "Dávila", "Egúsquiza",
    "Saavedra", "Huertas", "Chuquimia",
)  # fmt: skip

COMPANY_PREFIXES = (
    "Comercial", "Inversiones", "Distribuidora", "Negociaciones", "Servicios Generales",
    "Corporación", "Transportes", "Multiservicios", "Agroindustrias", "Importaciones",
    "Textiles", "Panificadora", "Ferretería", "Constructora", "Minimarket",
)  # fmt: skip
COMPANY_SUFFIXES = ("S.A.C.", "E.I.R.L.", "S.R.L.", "S.A.")

STREETS = (
    "Túpac Amaru", "Los Incas", "Grau", "Bolognesi", "Alfonso Ugarte", "José Gálvez",
    "San Martín", "Ramón Castilla", "Micaela Bastidas", "José Olaya", "Los Pinos",
    "Las Flores", "Los Álamos", "Huáscar", "Atahualpa", "Manco Cápac", "Pachacútec",
    "Leoncio Prado", "Sucre", "Bolívar", "28 de Julio", "2 de Mayo", "Arequipa", "Cusco",
    "Junín", "Ayacucho", "Puno", "Lima", "El Progreso", "Revolución", "Universitaria",
    "Las Palmeras", "Los Jazmines", "Las Magnolias", "Santa Rosa", "San Pedro",
    "Mariscal Cáceres", "Tacna", "Independencia", "La Unión", "Libertad", "Perú",
    "Primavera", "Los Cedros", "Los Próceres", "Próceres de la Independencia",
    "José Carlos Mariátegui", "César Vallejo", "Miguel Grau", "Francisco Bolognesi",
)  # fmt: skip
SETTLEMENTS = (
    "Señor de los Milagros", "Nueva Esperanza", "Villa Hermosa", "Los Jardines",
    "El Progreso", "Santa Rosa", "San Martín", "José Carlos Mariátegui", "Túpac Amaru",
    "Micaela Bastidas", "Primero de Mayo", "Las Lomas", "Virgen de Fátima",
    "Cruz de Motupe", "Los Laureles", "San Juan Bautista", "Sagrado Corazón",
    "Las Praderas", "El Mirador", "Santa María", "Juan Pablo II", "Andrés Avelino Cáceres",
    "El Ermitaño", "Villa Los Ángeles", "Nuevo Horizonte", "Santa Isabel", "Las Vegas",
)  # fmt: skip
STREET_PREFIXES = ("Av. ", "Jr. ", "Calle ", "Psje. ")
LOT_PREFIXES = ("AAHH ", "Urb. ", "Asoc. Viv. ", "P.J. ")
EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.es", "yahoo.com")
EMAIL_DOMAIN_P = (0.60, 0.25, 0.08, 0.04, 0.03)
COMPASS = ("Este", "Noreste", "Norte", "Noroeste", "Oeste", "Suroeste", "Sur", "Sureste")

# --- Products ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Product:
    name: str
    median_pen: float
    sigma: float
    terms: tuple[int, ...]
    tea: float  # annual effective rate, for the installment
    usd_share: float


PRODUCTS = (
    _Product("Microempresa", 6_000, 0.98, (6, 9, 12, 18, 24, 36), 0.45, 0.04),
    _Product("Consumo", 3_500, 0.92, (6, 12, 18, 24, 36), 0.38, 0.02),
    _Product("Pequeña Empresa", 22_000, 1.04, (12, 18, 24, 36, 48), 0.28, 0.12),
    _Product("Agrícola", 5_000, 0.86, (6, 8, 10, 12), 0.35, 0.02),
    _Product("Vivienda", 15_000, 0.80, (24, 36, 48), 0.20, 0.10),
)
# product probabilities: person in Lima, person elsewhere, company (RUC 20)
PRODUCT_P = {
    "lima": (0.50, 0.30, 0.10, 0.00, 0.10),
    "province": (0.40, 0.24, 0.09, 0.18, 0.09),
    "company": (0.35, 0.00, 0.65, 0.00, 0.00),
}

# Days past due, per credit: share current, then the delinquent buckets
# (from, to, share, decay scale of the truncated exponential inside the bucket).
DPD_CURRENT = 0.65
DPD_BUCKETS = (
    (1, 30, 0.190, 9.0),
    (31, 60, 0.060, 15.0),
    (61, 90, 0.035, 20.0),
    (91, 365, 0.050, 90.0),
    (366, 1500, 0.015, 250.0),
)
PAID_SKEW = 2.0  # a portfolio renews: more credits early in their schedule
CREDITS_PER_CLIENT_P = (0.72, 0.18, 0.07, 0.03)  # 1, 2, 3, 4 credits: mean ~1.41


@dataclass(frozen=True)
class GeneratedPortfolio:
    out: Path
    org_out: Path
    business_date: date
    credits: int
    clients: int
    zones: int
    agencies: int
    subzones: int
    quadrants: int
    officers: int
    external_agencies: int
    people: int
    csv_bytes: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.out}: {self.credits:,} credits of {self.clients:,} clients, "
            f"{self.csv_bytes / 1e6:,.1f} MB (business date {self.business_date}); "
            f"{self.org_out}: {self.zones} zones, {self.agencies} agencies, "
            f"{self.subzones} subzones, {self.quadrants:,} quadrants, {self.officers:,} officers, "
            f"{self.external_agencies} external agencies, {self.people} people; "
            f"{self.seconds:.1f} s"
        )


# --- Entry point -------------------------------------------------------------------------


def generate_portfolio(
    *, credits: int, seed: int, out: Path, org_out: Path, business_date: date | None = None
) -> GeneratedPortfolio:
    """Write a snapshot of `credits` credits to `out` and its organisation to `org_out`.

    The same seed and business date give byte-identical files. Without a
    business date, today in Lima is used (the snapshot's due dates follow it).
    """
    if credits < 1:
        raise ValueError("credits must be at least 1")
    started = time.perf_counter()
    if business_date is None:
        business_date = datetime.now(ZoneInfo("America/Lima")).date()
    out, org_out = Path(out), Path(org_out)
    rng = np.random.default_rng(seed)

    clients = _draw_clients(rng, credits)
    org = _build_organisation(rng, clients)
    _place_clients(rng, clients, org)
    loans = _draw_credits(rng, clients, org, business_date)
    _draw_officers(rng, org, loans)
    origin = _draw_origin_officers(rng, org, loans)
    blocks = _client_blocks(rng, clients, org)

    csv_bytes = _write_atomic(out, lambda fh: _write_csv(fh, blocks, org, loans, origin))
    _write_atomic(org_out, lambda fh: _write_organisation(fh, org, credits, seed, business_date))

    return GeneratedPortfolio(
        out=out,
        org_out=org_out,
        business_date=business_date,
        credits=credits,
        clients=clients.n,
        zones=len(org.zone_names),
        agencies=len(org.agency_names),
        subzones=len(org.subzone_names),
        quadrants=len(org.q_subzone),
        officers=len(org.officers),
        external_agencies=len(org.external_agencies),
        people=len(org.people),
        csv_bytes=csv_bytes,
        seconds=time.perf_counter() - started,
    )


def default_org_path(out: Path) -> Path:
    """`snap.csv` → `snap.organisation.yaml`, next to the snapshot."""
    out = Path(out)
    return out.with_name(out.stem + ".organisation.yaml")


def _write_atomic(path: Path, write) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        with open(partial, "wb") as fh:
            write(fh)
            size = fh.tell()
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    return size


# --- Clients -----------------------------------------------------------------------------


class _Clients:
    """Per-client arrays (index = client number - 1)."""

    n: int
    n_credits: np.ndarray  # credits of each client (1..4)
    agency: np.ndarray  # agency index
    quadrant: np.ndarray  # quadrant index (the home's cell, even when not reported)
    lat: np.ndarray
    lon: np.ndarray
    kind: np.ndarray  # 0 person (DNI), 1 person with business (RUC 10), 2 company (RUC 20)
    coords: np.ndarray  # bool: lat/lon reported
    quadrant_reported: np.ndarray  # bool: quadrant_code reported


def _draw_clients(rng: np.random.Generator, credits: int) -> _Clients:
    mean = float(np.dot(np.arange(1, 5), CREDITS_PER_CLIENT_P))
    guess = int(credits / mean * 1.05) + 10
    counts = rng.choice(4, size=guess, p=CREDITS_PER_CLIENT_P) + 1
    while counts.sum() < credits:  # practically never
        counts = np.concatenate([counts, rng.choice(4, size=guess, p=CREDITS_PER_CLIENT_P) + 1])
    total = np.cumsum(counts)
    n = int(np.searchsorted(total, credits)) + 1
    counts = counts[:n].copy()
    counts[-1] -= int(total[n - 1] - credits)
    c = _Clients()
    c.n = n
    c.n_credits = counts.astype(np.int64)
    u = rng.random(n)
    c.kind = np.where(u < 0.04, 2, np.where(u < 0.10, 1, 0)).astype(np.int8)
    return c


# --- Organisation and geography ------------------------------------------------------


@dataclass
class _Officer:
    code: str
    name: str
    agency: int
    external_agency: str | None
    subzones: list[int]
    tramos: list[int]
    username: str


class _Org:
    zone_names: list[str]
    agency_names: list[str]
    agency_zone: np.ndarray  # zone index per agency
    agency_lat: np.ndarray
    agency_lon: np.ndarray
    agency_lima: np.ndarray  # bool
    subzone_names: list[str]
    subzone_agency: np.ndarray
    q_subzone: np.ndarray  # per quadrant (sorted by subzone, north to south, west to east)
    q_lat: np.ndarray
    q_lon: np.ndarray
    q_dlat: float
    q_dlon: np.ndarray
    q_agency_start: np.ndarray  # quadrants of agency a: [start[a], start[a+1])
    q_weight: np.ndarray
    officers: list[_Officer]
    off_start: np.ndarray  # internal officers of agency a: off_start[a] + [0, off_count[a])
    off_count: np.ndarray
    external_agencies: list[tuple[str, str]]
    people: list[dict]


def _n_agencies(credits: int) -> int:
    return max(1, min(99, len(AGENCY_POOL), round(math.sqrt(credits) / 12)))  # AG01..AG99


def _pick_agencies(n: int) -> list[tuple[str, str, float, float, float]]:
    by_zone: dict[str, list] = {z: [] for z in ZONE_ROUND_ROBIN}
    for entry in AGENCY_POOL:
        by_zone[entry[1]].append(entry)
    picked = []
    while len(picked) < n:
        for zone in ZONE_ROUND_ROBIN:
            if by_zone[zone] and len(picked) < n:
                picked.append(by_zone[zone].pop(0))
    return picked


def _build_organisation(rng: np.random.Generator, clients: _Clients) -> _Org:
    org = _Org()
    picked = _pick_agencies(_n_agencies(int(clients.n_credits.sum())))
    org.zone_names = list(dict.fromkeys(p[1] for p in picked))
    org.agency_names = [p[0] for p in picked]
    org.agency_zone = np.array([org.zone_names.index(p[1]) for p in picked])
    org.agency_lat = np.array([p[2] for p in picked])
    org.agency_lon = np.array([p[3] for p in picked])
    org.agency_lima = np.array([p[1].startswith("Lima") for p in picked])
    n_ag = len(picked)

    weights = np.array([p[4] for p in picked]) * rng.lognormal(0.0, 0.3, n_ag)
    clients.agency = rng.choice(n_ag, size=clients.n, p=weights / weights.sum())
    per_agency = np.bincount(clients.agency, minlength=n_ag)

    # Territory radius: enough 200 m cells for ~CLIENTS_PER_QUADRANT clients each.
    cell_area = QUADRANT_SIZE_M**2
    radius = np.sqrt(np.maximum(per_agency, 1) / CLIENTS_PER_QUADRANT * cell_area / math.pi)
    radius = np.clip(radius, 600.0, 3000.0)

    dlat = QUADRANT_SIZE_M / METRES_PER_DEGREE
    cand_i, cand_j, cand_ag, cand_d = [], [], [], []
    for a in range(n_ag):
        lat0, lon0, r = org.agency_lat[a], org.agency_lon[a], radius[a]
        coslat0 = math.cos(math.radians(lat0))
        i_lo = math.floor((lat0 - r / METRES_PER_DEGREE) / dlat)
        i_hi = math.floor((lat0 + r / METRES_PER_DEGREE) / dlat)
        for i in range(i_lo, i_hi + 1):
            lat_c = (i + 0.5) * dlat
            dlon = dlat / math.cos(math.radians(lat_c))
            half = r / (METRES_PER_DEGREE * coslat0)
            j = np.arange(math.floor((lon0 - half) / dlon), math.floor((lon0 + half) / dlon) + 1)
            lon_c = (j + 0.5) * dlon
            d = np.hypot(
                (lat_c - lat0) * METRES_PER_DEGREE, (lon_c - lon0) * METRES_PER_DEGREE * coslat0
            )
            keep = (d <= r) & ~_water(lat_c, lon_c, org.agency_names[a])
            keep |= d <= 0.75 * QUADRANT_SIZE_M  # the agency's own cell, whatever the map says
            cand_i.append(np.full(int(keep.sum()), i))
            cand_j.append(j[keep])
            cand_ag.append(np.full(int(keep.sum()), a))
            cand_d.append(d[keep])
    ci, cj = np.concatenate(cand_i), np.concatenate(cand_j)
    cag, cd = np.concatenate(cand_ag), np.concatenate(cand_d)
    # A cell belongs to the nearest agency that reaches it.
    order = np.lexsort((cag, cd, cj, ci))
    ci, cj, cag, cd = ci[order], cj[order], cag[order], cd[order]
    first = np.ones(len(ci), dtype=bool)
    first[1:] = (ci[1:] != ci[:-1]) | (cj[1:] != cj[:-1])
    ci, cj, cag, cd = ci[first], cj[first], cag[first], cd[first]

    cell_lat = (ci + 0.5) * dlat
    cell_dlon = dlat / np.cos(np.radians(cell_lat))
    cell_lon = (cj + 0.5) * cell_dlon

    sub_names: list[str] = []
    sub_agency: list[int] = []
    q_parts = []  # per agency: (subzone global index, i, j) sorted
    for a in range(n_ag):
        mask = cag == a
        ai, aj = ci[mask], cj[mask]
        y = (cell_lat[mask] - org.agency_lat[a]) * METRES_PER_DEGREE
        x = (
            (cell_lon[mask] - org.agency_lon[a])
            * METRES_PER_DEGREE
            * math.cos(math.radians(org.agency_lat[a]))
        )
        want = 3 + min(5, int(per_agency[a] / 1500))
        k = int(np.clip(want + rng.integers(-1, 2), 3, 8))
        k = min(k, len(ai))
        label, centres = _kmeans(np.column_stack([x, y]), k)
        # Subzones: the one holding the agency first ("Centro"), then counter-clockwise.
        dist = np.hypot(centres[:, 0], centres[:, 1])
        angle = np.degrees(np.arctan2(centres[:, 1], centres[:, 0])) % 360
        centre = int(np.argmin(dist))
        rest = sorted((c for c in range(k) if c != centre), key=lambda c: angle[c])
        ranking = [centre, *rest]
        used: set[str] = set()
        local = np.empty(k, dtype=np.int64)
        for rank, c in enumerate(ranking):
            if rank == 0:
                part = "Centro"
            else:
                part = COMPASS[int(((angle[c] + 22.5) % 360) // 45)]
                if part in used:
                    part = next(s for s in SETTLEMENTS if s not in used)
            used.add(part)
            local[c] = len(sub_names)
            sub_names.append(f"{org.agency_names[a]} {part}")
            sub_agency.append(a)
        sz = local[label]
        order = np.lexsort((aj, -ai, sz))
        q_parts.append((sz[order], ai[order], aj[order], np.hypot(x, y)[order] / radius[a]))

    org.subzone_names = sub_names
    org.subzone_agency = np.array(sub_agency)
    org.q_subzone = np.concatenate([p[0] for p in q_parts])
    q_i = np.concatenate([p[1] for p in q_parts])
    q_j = np.concatenate([p[2] for p in q_parts])
    q_rel = np.concatenate([p[3] for p in q_parts])
    org.q_dlat = dlat
    org.q_lat = (q_i + 0.5) * dlat
    org.q_dlon = dlat / np.cos(np.radians(org.q_lat))
    org.q_lon = (q_j + 0.5) * org.q_dlon
    counts = np.array([len(p[0]) for p in q_parts])
    org.q_agency_start = np.concatenate([[0], np.cumsum(counts)])
    # Density: clients cluster near the agency and in some blocks more than others.
    org.q_weight = rng.lognormal(0.0, 0.8, len(q_i)) * np.exp(-1.2 * q_rel)
    return org


_COAST_LAT = np.array([c[0] for c in COAST][::-1])
_COAST_LON = np.array([c[1] for c in COAST][::-1])


def _water(lat: float, lon: np.ndarray, agency: str) -> np.ndarray:
    water = lon < np.interp(lat, _COAST_LAT, _COAST_LON)
    if agency in WATER_EAST:
        water |= lon > WATER_EAST[agency]
    return water


def _kmeans(points: np.ndarray, k: int, rounds: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic k-means: farthest-point start from the point nearest the origin."""
    chosen = [int(np.argmin(np.hypot(points[:, 0], points[:, 1])))]
    dmin = np.hypot(*(points - points[chosen[0]]).T)
    while len(chosen) < k:
        nxt = int(np.argmax(dmin))
        chosen.append(nxt)
        dmin = np.minimum(dmin, np.hypot(*(points - points[nxt]).T))
    centres = points[chosen].astype(float)
    for _ in range(rounds):
        d = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        label = np.argmin(d, axis=1)
        for c in range(k):
            members = points[label == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    d = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    label = np.argmin(d, axis=1)
    # Every cluster keeps at least one cell: an emptied one takes the point nearest it.
    for c in range(k):
        if not (label == c).any():
            label[int(np.argmin(d[:, c]))] = c
    return label, centres


def _place_clients(rng: np.random.Generator, clients: _Clients, org: _Org) -> None:
    """Each client's home: a quadrant of its agency, a point in the cell's inner 80 %."""
    start = org.q_agency_start
    # Cumulative weights normalised per agency and offset by the agency index, so one
    # searchsorted draws every client's quadrant within its own agency.
    cum = np.empty(len(org.q_weight))
    for a in range(len(start) - 1):
        w = org.q_weight[start[a] : start[a + 1]]
        cum[start[a] : start[a + 1]] = a + np.cumsum(w) / w.sum()
    cum[start[1:] - 1] = np.arange(1, len(start))  # exact block ends
    u = clients.agency + rng.random(clients.n) * (1 - 1e-12)
    q = np.searchsorted(cum, u, side="right")
    q = np.clip(q, start[clients.agency], start[clients.agency + 1] - 1)
    clients.quadrant = q
    clients.lat = org.q_lat[q] + rng.uniform(-0.4, 0.4, clients.n) * org.q_dlat
    clients.lon = org.q_lon[q] + rng.uniform(-0.4, 0.4, clients.n) * org.q_dlon[q]
    u = rng.random(clients.n)
    clients.coords = u >= 0.03
    clients.quadrant_reported = u >= 0.13


# --- Credits -----------------------------------------------------------------------------


class _Credits:
    """Per-credit arrays in file order (credit code order)."""

    client: np.ndarray
    agency: np.ndarray
    product: np.ndarray
    usd: np.ndarray
    disbursed: np.ndarray  # cents
    balance: np.ndarray  # cents
    overdue: np.ndarray  # cents
    overdue_inst: np.ndarray
    total_inst: np.ndarray
    dpd: np.ndarray
    next_due: np.ndarray  # datetime64[D]
    late_interest: np.ndarray  # cents
    fees: np.ndarray  # cents
    commissions: np.ndarray  # cents


def _trunc_exp(u: np.ndarray, scale: float, width: int) -> np.ndarray:
    """Integers 0..width-1, decaying with `scale`, from uniforms `u`."""
    v = -scale * np.log1p(-u * (1.0 - math.exp(-width / scale)))
    return np.minimum(np.floor(v).astype(np.int64), width - 1)


def _draw_dpd(rng: np.random.Generator, n: int) -> np.ndarray:
    shares = [DPD_CURRENT] + [b[2] for b in DPD_BUCKETS]
    bucket = rng.choice(len(shares), size=n, p=np.array(shares) / sum(shares))
    u = rng.random(n)
    dpd = np.zeros(n, dtype=np.int64)
    for k, (lo, hi, _share, scale) in enumerate(DPD_BUCKETS, start=1):
        m = bucket == k
        dpd[m] = lo + _trunc_exp(u[m], scale, hi - lo + 1)
    return dpd


def _draw_credits(
    rng: np.random.Generator, clients: _Clients, org: _Org, business_date: date
) -> _Credits:
    n = int(clients.n_credits.sum())
    # Credit codes are given in disbursement order, so a client's credits are scattered.
    owner = np.repeat(np.arange(clients.n), clients.n_credits)
    perm = rng.permutation(n)
    client = owner[perm]
    cr = _Credits()
    cr.client = client
    cr.agency = clients.agency[client]

    lima = org.agency_lima[clients.agency[client]]
    company = clients.kind[client] == 2
    u = rng.random(n)
    product = np.zeros(n, dtype=np.int64)
    for key, mask in (
        ("company", company),
        ("lima", ~company & lima),
        ("province", ~company & ~lima),
    ):
        cum = np.cumsum(PRODUCT_P[key])
        product[mask] = np.minimum(np.searchsorted(cum, u[mask], side="right"), len(cum) - 1)
    cr.product = product

    median = np.array([p.median_pen for p in PRODUCTS])[product]
    sigma = np.array([p.sigma for p in PRODUCTS])[product]
    usd_share = np.array([p.usd_share for p in PRODUCTS])[product]
    cr.usd = rng.random(n) < usd_share
    pen = median * np.exp(sigma * rng.standard_normal(n))
    amount = np.where(cr.usd, pen / USD_RATE, pen)
    # Lenders disburse round amounts: to the 100 (S/ 500 or US$ 200 at least).
    hundreds = np.maximum(np.round(amount / 100), np.where(cr.usd, 2, 5))
    hundreds = np.minimum(hundreds, np.where(cr.usd, 1_500, 5_000))  # S/ 500k, US$ 150k
    principal = hundreds * 100.0

    # Schedule: equal monthly installments at the product's rate.
    terms = np.empty(n, dtype=np.int64)
    ut = rng.random(n)
    for k, p in enumerate(PRODUCTS):
        m = product == k
        terms[m] = np.array(p.terms)[(ut[m] * len(p.terms)).astype(np.int64)]
    i = (1 + np.array([p.tea for p in PRODUCTS])[product]) ** (1 / 12) - 1
    installment = np.round(principal * i / (1 - (1 + i) ** -terms), 2)

    dpd = _draw_dpd(rng, n)
    # Clients' credits fall behind together: half the later credits copy the first's DPD.
    _clients, first_of_client = np.unique(client, return_index=True)
    copy = (rng.random(n) < 0.5) & (np.arange(n) != first_of_client[client])
    dpd = np.where(copy, dpd[first_of_client[client]], dpd)

    paid = (rng.random(n) ** PAID_SKEW * terms).astype(np.int64)  # 0..terms-1
    late = dpd > 0
    overdue_inst = np.where(late, np.minimum(-(-dpd // 30), terms - paid), 0)
    remaining = terms - paid
    balance = np.round(installment * (1 - (1 + i) ** -remaining) / i, 2)
    balance = np.minimum(balance, principal)

    d0 = np.datetime64(business_date, "D")
    # Current: the next installment falls in the coming month (today included).
    # Late: the first installment not yet due, or the last one if none is left.
    ahead = rng.integers(0, 30, n)
    oldest = d0 - dpd.astype("timedelta64[D]")
    future_left = remaining - overdue_inst > 0
    late_next = oldest + (30 * np.where(future_left, overdue_inst, overdue_inst - 1)).astype(
        "timedelta64[D]"
    )
    cr.next_due = np.where(late, late_next, d0 + ahead.astype("timedelta64[D]"))

    overdue = np.round(overdue_inst * installment, 2)
    # Late charges, only on late credits: moratory interest (15 % a year on what is
    # overdue), collection fees from day 8 by tramo, some commissions.
    moratory = np.round(overdue * ((1.15) ** (np.minimum(dpd, 1080) / 360) - 1), 2)
    moratory = np.where(late, np.maximum(moratory, 0.01), 0.0)
    fee_pen = np.select([dpd >= 91, dpd >= 61, dpd >= 31, dpd >= 8], [60.0, 40.0, 25.0, 10.0], 0.0)
    fees = np.where(cr.usd, np.round(fee_pen / USD_RATE, 2), fee_pen)
    commission = np.where(late & (rng.random(n) < 0.6), 4.5 * np.minimum(overdue_inst, 12), 0.0)
    commission = np.where(cr.usd, np.round(commission / USD_RATE, 2), commission)

    def cents(x):
        return np.round(np.asarray(x) * 100).astype(np.int64)

    cr.disbursed = cents(principal)
    cr.balance = cents(balance)
    cr.overdue = cents(overdue)
    cr.overdue_inst = overdue_inst
    cr.total_inst = terms
    cr.dpd = dpd
    cr.late_interest = cents(moratory)
    cr.fees = cents(fees)
    cr.commissions = cents(commission)
    return cr


# --- People ------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).lower()


class _Usernames:
    def __init__(self):
        self.seen: dict[str, int] = {}

    def __call__(self, given: str, surname: str) -> str:
        base = re.sub(r"[^a-z]", "", _ascii(given)[:1] + _ascii(surname))
        self.seen[base] = self.seen.get(base, 0) + 1
        return f"{base}{self.seen[base]}"


def _draw_officers(rng: np.random.Generator, org: _Org, loans: _Credits) -> None:
    """Asesores (~1 per 1,000 credits, at least 2 per agency), external agencies, heads."""
    n_ag = len(org.agency_names)
    usernames = _Usernames()
    given_p, surname_p = _zipf(len(GIVEN_NAMES), 20), _zipf(len(SURNAMES), 8)

    def person() -> tuple[str, str]:
        g = GIVEN_NAMES[int(rng.choice(len(GIVEN_NAMES), p=given_p))]
        s = SURNAMES[int(rng.choice(len(SURNAMES), p=surname_p))]
        return g, s

    credits_per_agency = np.bincount(loans.agency, minlength=n_ag)
    subzones_of = [np.flatnonzero(org.subzone_agency == a).tolist() for a in range(n_ag)]
    officers: list[_Officer] = []
    org.off_start = np.zeros(n_ag, dtype=np.int64)
    org.off_count = np.zeros(n_ag, dtype=np.int64)
    for a in range(n_ag):
        count = max(2, round(credits_per_agency[a] / 1000))
        late = max(1, round(count / 4))
        early = count - late
        org.off_start[a], org.off_count[a] = len(officers), count
        for size, tramos in ((early, [1, 2, 3]), (late, [3, 4, 5])):
            for k in range(size):
                g, s = person()
                officers.append(
                    _Officer(
                        code="",
                        name=f"{g} {s}",
                        agency=a,
                        external_agency=None,
                        subzones=_share(subzones_of[a], size, k),
                        tramos=tramos,
                        username=usernames(g, s),
                    )
                )

    # External agencies: one for Lima, one for the provinces (and a third when large),
    # each with an officer in up to four agencies, working tramos 4 and 5.
    externals = [("EX01", "Recupera SAC"), ("EX02", "Cobranzas del Sur EIRL")]
    if n_ag >= 40:
        externals.append(("EX03", "Gestión y Recupero del Norte SAC"))
    lima = [a for a in range(n_ag) if org.agency_lima[a]]
    province = [a for a in range(n_ag) if not org.agency_lima[a]]
    pools = [lima or province, province or lima, province[4:] or province or lima]
    taken: set[int] = set()
    for (code, _name), pool in zip(externals, pools, strict=False):
        mine = [a for a in pool if a not in taken][:4] or pool[:4]
        taken.update(mine)
        for a in mine:
            g, s = person()
            officers.append(
                _Officer("", f"{g} {s}", a, code, list(subzones_of[a]), [4, 5], usernames(g, s))
            )
    width = max(4, len(str(len(officers))))
    for number, officer in enumerate(officers, start=1):
        officer.code = f"AS{number:0{width}d}"
    org.officers = officers
    org.external_agencies = externals

    people = []
    for a in range(n_ag):
        people.append(
            {"username": usernames(*person()), "role": "jefe_agencia", "agency": _agency_code(a)}
        )
    for z in range(len(org.zone_names)):
        people.append(
            {"username": usernames(*person()), "role": "jefe_zonal", "zone": _zone_code(z)}
        )
    people.append({"username": "gerencia", "role": "gerente"})
    org.people = people


def _share(items: list[int], members: int, k: int) -> list[int]:
    """Member k's part of `items` split round-robin among `members` (at least one each)."""
    if members <= len(items):
        return items[k::members]
    return [items[k % len(items)]]


def _draw_origin_officers(rng: np.random.Generator, org: _Org, loans: _Credits) -> np.ndarray:
    """The officer who disbursed each credit: any internal officer of the agency."""
    a = loans.agency
    return org.off_start[a] + (rng.random(len(a)) * org.off_count[a]).astype(np.int64)


def _zipf(n: int, offset: float) -> np.ndarray:
    w = 1.0 / (np.arange(n) + offset)
    return w / w.sum()


def _agency_code(a: int) -> str:
    return f"AG{a + 1:02d}"


def _zone_code(z: int) -> str:
    return f"Z{z + 1:02d}"


def _subzone_code(s: int) -> str:
    return f"SZ{s + 1:03d}"


def _quadrant_code(q: int) -> str:
    return f"Q{q + 1:06d}"


# --- Byte-level string building ----------------------------------------------------------
#
# A "piece" is either a constant (bytes) or an `S` array with one value per row. Joining
# pieces writes each one, full width, at the row's running offset in a (rows, width)
# byte matrix; the next piece starts where the previous value ended, so the padding a
# piece writes past its value is overwritten or stays as trailing nulls.


def _vocab(words) -> np.ndarray:
    encoded = [w.encode() for w in words]
    return np.array(encoded, dtype=f"S{max(1, *(len(e) for e in encoded))}")


def _join_matrix(pieces: list, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The pieces side by side: a (n, width) byte matrix, null padded, and each row's length."""
    width = sum(len(p) if isinstance(p, bytes) else p.dtype.itemsize for p in pieces)
    matrix = np.zeros((n, width), dtype=np.uint8)
    lengths = np.empty(n, dtype=np.int64)
    # A block of rows at a time keeps the index arrays small (and in cache).
    for lo in range(0, n, JOIN_BLOCK_ROWS):
        hi = min(n, lo + JOIN_BLOCK_ROWS)
        flat = matrix[lo:hi].reshape(-1)
        row_start = np.arange(hi - lo, dtype=np.int64) * width
        pos = row_start.copy()
        for p in pieces:
            if isinstance(p, bytes):
                for k, byte in enumerate(p):
                    flat[pos + k] = byte
                pos += len(p)
            else:
                w = p.dtype.itemsize
                block = np.ascontiguousarray(p[lo:hi])
                flat[pos[:, None] + np.arange(w)] = block.view(np.uint8).reshape(hi - lo, w)
                pos += np.strings.str_len(block)
        lengths[lo:hi] = pos - row_start
    return matrix, lengths


def _join(pieces: list, n: int) -> np.ndarray:
    matrix, _lengths = _join_matrix(pieces, n)
    return matrix.view(f"S{matrix.shape[1]}").ravel()


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers, zero-padded to `width` digits."""
    x = np.asarray(x, dtype=np.int64).copy()
    out = np.empty((len(x), width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        out[:, k] = x % 10 + 48
        x //= 10
    return out.view(f"S{width}").ravel()


def _int_s(x: np.ndarray) -> np.ndarray:
    """Non-negative integers as decimal text."""
    x = np.asarray(x, dtype=np.int64)
    width = len(str(int(x.max()))) if len(x) else 1
    padded = _digits(x, width).view(np.uint8).reshape(-1, width)
    n_digits = np.ones(len(x), dtype=np.int64)
    for k in range(1, width):
        n_digits += x >= 10**k
    # Shift each row left over its leading zeros; what falls past the end becomes padding.
    idx = np.arange(width) + (width - n_digits)[:, None]
    out = np.take_along_axis(padded, np.minimum(idx, width - 1), axis=1)
    out[idx >= width] = 0
    return out.view(f"S{width}").ravel()


def _money(cents: np.ndarray) -> list:
    """Pieces of an amount with two decimals: 1234.50."""
    return [_int_s(cents // 100), b".", _digits(cents % 100, 2)]


def _coordinate(value: np.ndarray) -> np.ndarray:
    micro = np.round(np.abs(value) * 1e6).astype(np.int64)
    sign = np.where(value < 0, b"-", b"")
    return _join(
        [sign, _int_s(micro // 1_000_000), b".", _digits(micro % 1_000_000, 6)], len(value)
    )


def _choose(rng: np.random.Generator, n: int, p) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    cum = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(p) - 1)


# --- The client's columns ------------------------------------------------------------------


def _ruc_check(first10: np.ndarray) -> np.ndarray:
    """SUNAT's check digit of an 11-digit RUC, from its first ten digits."""
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    total = np.zeros(len(first10), dtype=np.int64)
    for k, weight in enumerate(weights):
        total += (first10 // 10 ** (9 - k)) % 10 * weight
    check = 11 - total % 11
    return np.where(check == 10, 0, np.where(check == 11, 1, check))


def _unique_numbers(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """n distinct integers in [low, high): one per stratum, shuffled."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    step = (high - low) / n
    base = low + np.floor(np.arange(n) * step).astype(np.int64)
    return rng.permutation(base + (rng.random(n) * max(1, math.floor(step))).astype(np.int64))


def _client_blocks(rng: np.random.Generator, clients: _Clients, org: _Org):
    """Two byte strings per client: the columns before the product and those after the
    origin officer (client_code,client_name,document_id / phone,…,quadrant_code)."""
    n = clients.n
    code_width = max(7, len(str(n)))
    code = _join([b"C", _digits(np.arange(1, n + 1), code_width)], n)

    company = clients.kind == 2
    given = _choose(rng, n, _zipf(len(GIVEN_NAMES), 20))
    surname1 = _choose(rng, n, _zipf(len(SURNAMES), 8))
    surname2 = _choose(rng, n, _zipf(len(SURNAMES), 8))
    prefix = rng.integers(0, len(COMPANY_PREFIXES), n)
    suffix = _choose(rng, n, (0.55, 0.25, 0.15, 0.05))
    surnames = _vocab(SURNAMES)
    first = np.where(company, _vocab(COMPANY_PREFIXES)[prefix], _vocab(GIVEN_NAMES)[given])
    last = np.where(company, _vocab(COMPANY_SUFFIXES)[suffix], surnames[surname2])
    name = _join([first, b" ", surnames[surname1], b" ", last], n)

    dni = _unique_numbers(rng, n, 1_000_000, 80_000_000)  # some start with 0
    ruc20_body = _unique_numbers(rng, n, 10_000_000, 100_000_000)
    first10 = np.where(company, 20 * 10**8 + ruc20_body, 10 * 10**8 + dni)
    ruc = _join([_digits(first10, 10), _digits(_ruc_check(first10), 1)], n)
    document = np.where(clients.kind == 0, _digits(dni, 8), ruc)

    has_phone = rng.random(n) >= 0.15
    phone = np.where(has_phone, _join([b"9", _digits(rng.integers(0, 10**8, n), 8)], n), b"")

    has_email = rng.random(n) < np.where(company, 0.6, 0.25)
    local1 = np.where(
        company,
        _vocab([_ascii(p.split()[0]) for p in COMPANY_PREFIXES])[prefix],
        _vocab([_ascii(g) for g in GIVEN_NAMES])[given],
    )
    local2 = _vocab([re.sub(r"[^a-z]", "", _ascii(s)) for s in SURNAMES])[surname1]
    number = np.where(rng.random(n) < 0.5, _digits(rng.integers(0, 100, n), 2), b"")
    domain = _vocab(EMAIL_DOMAINS)[_choose(rng, n, EMAIL_DOMAIN_P)]
    email = _join([local1, b".", local2, number, b"@", domain], n)
    email = np.where(has_email, email, b"")

    # "Av. Túpac Amaru 1234, Comas" or "Mz. C Lt. 12, AAHH Santa Rosa, Comas": always
    # a comma, so always quoted as csv.writer would.
    street = _join(
        [
            _vocab(STREET_PREFIXES)[_choose(rng, n, (0.4, 0.35, 0.15, 0.1))],
            _vocab(STREETS)[rng.integers(0, len(STREETS), n)],
            b" ",
            _int_s(rng.integers(100, 3000, n)),
        ],
        n,
    )
    lot = _join(
        [
            b"Mz. ",
            _vocab("ABCDEFGHIJKLMNOPQRS")[rng.integers(0, 19, n)],
            b" Lt. ",
            _int_s(rng.integers(1, 41, n)),
            b", ",
            _vocab(LOT_PREFIXES)[_choose(rng, n, (0.5, 0.25, 0.15, 0.1))],
            _vocab(SETTLEMENTS)[rng.integers(0, len(SETTLEMENTS), n)],
        ],
        n,
    )
    home = np.where(rng.random(n) < 0.35, lot, street)
    district = _vocab(org.agency_names)[clients.agency]
    address = _join([b'"', home, b", ", district, b'"'], n)

    lat = np.where(clients.coords, _coordinate(clients.lat), b"")
    lon = np.where(clients.coords, _coordinate(clients.lon), b"")
    quadrant = _join([b"Q", _digits(clients.quadrant + 1, 6)], n)
    quadrant = np.where(clients.coords & clients.quadrant_reported, quadrant, b"")

    before = _join([code, b",", name, b",", document], n)
    after = _join([phone, b",", email, b",", address, b",", lat, b",", lon, b",", quadrant], n)
    return before, after


# --- Writers -----------------------------------------------------------------------------


def _write_csv(
    fh, blocks: tuple[np.ndarray, np.ndarray], org: _Org, loans: _Credits, origin
) -> None:
    """The snapshot, CHUNK_ROWS rows at a time; nothing random is drawn here."""
    before, after = blocks
    products = _vocab([p.name for p in PRODUCTS])
    currencies = _vocab(["PEN", "USD"])
    agencies = _vocab([_agency_code(a) for a in range(len(org.agency_names))])
    officers = _vocab([o.code for o in org.officers])
    n = len(loans.client)
    code_width = max(8, len(str(n)))
    fh.write((",".join(COLUMNS) + "\n").encode())
    for lo in range(0, n, CHUNK_ROWS):
        hi = min(n, lo + CHUNK_ROWS)
        m = hi - lo
        sl = slice(lo, hi)
        ci = loans.client[sl]
        pieces = [
            b"CR",
            _digits(np.arange(lo + 1, hi + 1), code_width),
            b",",
            before[ci],
            b",",
            products[loans.product[sl]],
            b",",
            currencies[loans.usd[sl].astype(np.int64)],
            b",",
            *_money(loans.disbursed[sl]),
            b",",
            *_money(loans.balance[sl]),
            b",",
            *_money(loans.overdue[sl]),
            b",",
            _int_s(loans.overdue_inst[sl]),
            b",",
            _int_s(loans.total_inst[sl]),
            b",",
            _int_s(loans.dpd[sl]),
            b",",
            agencies[loans.agency[sl]],
            b",",
            loans.next_due[sl].astype("S10"),
            b",",
            officers[origin[sl]],
            b",",
            after[ci],
            b",",
            *_money(loans.late_interest[sl]),
            b",",
            *_money(loans.fees[sl]),
            b",",
            *_money(loans.commissions[sl]),
            b"\n",
        ]
        matrix, lengths = _join_matrix(pieces, m)
        fh.write(matrix[np.arange(matrix.shape[1]) < lengths[:, None]].tobytes())


_PLAIN = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ0-9 .'-]*")


def _y(text: str) -> str:
    """A YAML flow scalar: plain when safe, else double-quoted (JSON is valid YAML)."""
    if (
        _PLAIN.fullmatch(text)
        and text.lower() not in {"null", "true", "false", "yes", "no", "on", "off", "y", "n"}
        and not text.endswith(" ")
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def _write_organisation(fh, org: _Org, credits: int, seed: int, business_date: date) -> None:
    lines = [
        "# Organisation and geography for a synthetic snapshot (DOMAIN.md 7.5):",
        f"# generate_portfolio --credits {credits} --seed {seed} --date {business_date}",
        "zones:",
    ]
    lines += [
        f"  - {{code: {_zone_code(z)}, name: {_y(name)}}}" for z, name in enumerate(org.zone_names)
    ]
    lines.append("agencies:")
    for a, name in enumerate(org.agency_names):
        lines.append(
            f"  - {{code: {_agency_code(a)}, name: {_y(name)},"
            f" zone: {_zone_code(int(org.agency_zone[a]))},"
            f" lat: {org.agency_lat[a]:.4f}, lon: {org.agency_lon[a]:.4f},"
            # The agency's phone and street, for messages and letters (synthetic).
            f" phone: {_y(f'(01) 61{a % 10} {(1000 + 37 * a) % 9000 + 1000:04d}')},"
            f" address: {_y(f'Av. Principal {100 + 10 * a}, {name}')}}}"
        )
    lines.append("subzones:")
    for s, name in enumerate(org.subzone_names):
        lines.append(
            f"  - {{code: {_subzone_code(s)}, agency: {_agency_code(int(org.subzone_agency[s]))},"
            f" name: {_y(name)}}}"
        )
    lines.append("quadrants:")
    subzone_codes = [_subzone_code(s) for s in range(len(org.subzone_names))]
    for q, (s, lat, lon) in enumerate(
        zip(org.q_subzone.tolist(), org.q_lat.tolist(), org.q_lon.tolist(), strict=True)
    ):
        lines.append(
            f"  - {{code: {_quadrant_code(q)}, subzone: {subzone_codes[s]},"
            f" lat: {lat:.6f}, lon: {lon:.6f}, size_m: {QUADRANT_SIZE_M}}}"
        )
    lines.append("officers:")
    for o in org.officers:
        lines.append(
            f"  - {{code: {o.code}, name: {_y(o.name)}, agency: {_agency_code(o.agency)},"
            f" external_agency: {o.external_agency or 'null'},"
            f" subzones: [{', '.join(subzone_codes[s] for s in o.subzones)}],"
            f" tramos: [{', '.join(str(t) for t in o.tramos)}], username: {o.username}}}"
        )
    lines.append("external_agencies:")
    lines += [f"  - {{code: {code}, name: {_y(name)}}}" for code, name in org.external_agencies]
    lines.append("people:")
    for p in org.people:
        fields = ", ".join(f"{k}: {v}" for k, v in p.items())
        lines.append(f"  - {{{fields}}}")
    fh.write(("\n".join(lines) + "\n").encode())
