"""Write bmtcrr.csv, the stem-cell transplant competing-risks data of Scrucca, Santucci & Aversa
(2007), Bone Marrow Transplant 40:381, doi:10.1038/sj.bmt.1705727, as shipped in the R package
casebase (data/bmtcrr.rda, commit fecef524e8d1a52504b4714dbd12352250cd1eab).

177 patients; Status 0 = censored, 1 = relapse, 2 = competing event (transplant-related death);
ftime in months. Run once with pyreadr installed:

    python make_bmtcrr.py path/to/bmtcrr.rda
"""

import sys
from pathlib import Path

import pyreadr  # pyreadr 0.5.8

df = pyreadr.read_r(sys.argv[1])["bmtcrr"]
df.to_csv(Path(__file__).with_name("bmtcrr.csv"), index=False)
