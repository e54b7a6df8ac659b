"""A synthetic retail-credit data set: realistic shapes, a fixed seed, no network.

Each row is one applicant: income (log-normal), age, revolving utilisation, months since the last
delinquency (missing for the majority who never had one), open accounts, recent credit inquiries,
debt-to-income, requested amount, tenure with the bank and a product code. The default label follows a
logistic relation a risk analyst would recognise (high utilisation, recent delinquency, many inquiries and
high DTI raise risk; income, age and tenure lower it). `shift` moves the population for drift and
retraining demos (a downturn: lower incomes, higher utilisation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LABEL = "default"
PRODUCTS = {1: "credit card", 2: "personal loan", 3: "mortgage", 4: "auto loan", 5: "overdraft"}
FEATURES = (
    "income", "age", "utilisation", "months_since_delinquency", "open_accounts", "inquiries_6m",
    "debt_to_income", "loan_amount", "tenure_months", "product_code",
)
_PRODUCT_RISK = {1: 0.25, 2: 0.35, 3: -0.6, 4: -0.1, 5: 0.5}


def generate(rows: int = 10_000, seed: int = 20_261_128, shift: float = 0.0) -> pd.DataFrame:
    """`rows` applicants with a `default` label; the same arguments always give the same frame."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(42, 13, rows), 18, 95).round()
    income = np.round(rng.lognormal(np.log(48_000) + 0.012 * (age - 42) - 0.15 * shift, 0.55, rows), 2)
    product = rng.choice(list(PRODUCTS), size=rows, p=[0.35, 0.25, 0.15, 0.15, 0.10]).astype(np.float64)
    utilisation = np.round(np.clip(rng.beta(2.0 + shift, 4.5, rows) * 1.25, 0, 1.5), 4)
    ever_delinquent = rng.random(rows) < 0.28 + 0.1 * shift
    months_delinq = np.where(ever_delinquent, rng.integers(0, 84, rows), np.nan)
    open_accounts = rng.poisson(4.0, rows).astype(np.float64)
    inquiries = rng.poisson(0.8 + 0.4 * shift, rows).astype(np.float64)
    dti = np.round(np.clip(rng.normal(0.32 + 0.05 * shift, 0.14, rows), 0.0, 1.2), 4)
    loan_amount = np.round(rng.lognormal(np.log(12_000), 0.8, rows) * np.where(product == 3, 12, 1), 2)
    tenure = np.clip(rng.exponential(60, rows), 0, 480).round()

    recent = np.where(np.isnan(months_delinq), 0.0, np.exp(-np.nan_to_num(months_delinq) / 18.0))
    logit = (
        -2.6 + 2.2 * (utilisation - 0.35) - 0.55 * np.log(income / 48_000) - 0.018 * (age - 42)
        + 1.4 * recent + 0.3 * ever_delinquent + 0.28 * inquiries + 2.0 * (dti - 0.32)
        + 0.04 * (open_accounts - 4) - 0.003 * tenure + np.vectorize(_PRODUCT_RISK.get)(product)
    )
    default = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame({
        "income": income, "age": age, "utilisation": utilisation, "months_since_delinquency": months_delinq,
        "open_accounts": open_accounts, "inquiries_6m": inquiries, "debt_to_income": dti,
        "loan_amount": loan_amount, "tenure_months": tenure, "product_code": product, LABEL: default,
    })
