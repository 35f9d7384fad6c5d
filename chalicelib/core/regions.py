"""Sweden's 21 regions, as the support desk names them in tickets."""

from typing import Literal

Region = Literal[
    "Region Stockholm",
    "Region Uppsala",
    "Region Sörmland",
    "Region Östergötland",
    "Region Jönköpings län",
    "Region Kronoberg",
    "Region Kalmar län",
    "Region Gotland",
    "Region Blekinge",
    "Region Skåne",
    "Region Halland",
    "Västra Götalandsregionen",
    "Region Värmland",
    "Region Örebro län",
    "Region Västmanland",
    "Region Dalarna",
    "Region Gävleborg",
    "Region Västernorrland",
    "Region Jämtland Härjedalen",
    "Region Västerbotten",
    "Region Norrbotten",
]
