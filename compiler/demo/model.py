"""The demo model: a credit scorecard-style pipeline that exercises every feature-program step family."""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, KBinsDiscretizer, MinMaxScaler, OneHotEncoder, StandardScaler

from compiler.build import Constraint
from compiler.demo.data import FEATURES, LABEL, generate

# What a valid application looks like; the gateway rejects anything else with the field named.
CONSTRAINTS = {
    "income": Constraint(0.0, 1e8),
    "age": Constraint(18.0, 120.0),
    "utilisation": Constraint(0.0, 10.0),
    "months_since_delinquency": Constraint(0.0, 1200.0),
    "open_accounts": Constraint(0.0, 500.0),
    "inquiries_6m": Constraint(0.0, 500.0),
    "debt_to_income": Constraint(0.0, 100.0),
    "loan_amount": Constraint(0.0, 1e9),
    "tenure_months": Constraint(0.0, 1200.0),
}


def pipeline() -> Pipeline:
    money = Pipeline([("impute", SimpleImputer(strategy="median")), ("log", FunctionTransformer(np.log1p)),
                      ("scale", StandardScaler())])
    ratios = Pipeline([("clip", FunctionTransformer(np.clip, kw_args={"a_min": 0.0, "a_max": 2.0})),
                       ("scale", StandardScaler())])
    delinquency = Pipeline([("impute", SimpleImputer(strategy="constant", fill_value=120.0, add_indicator=True)),
                            ("scale", MinMaxScaler())])
    prep = ColumnTransformer([
        ("money", money, ["income", "loan_amount"]),
        ("ratios", ratios, ["utilisation", "debt_to_income"]),
        ("delinquency", delinquency, ["months_since_delinquency"]),
        ("age_bands", KBinsDiscretizer(n_bins=6, encode="onehot-dense", strategy="quantile",
                                       quantile_method="averaged_inverted_cdf"), ["age"]),
        ("counts", StandardScaler(), ["open_accounts", "inquiries_6m", "tenure_months"]),
        ("product", OneHotEncoder(handle_unknown="error", sparse_output=False), ["product_code"]),
    ])
    return Pipeline([("prep", prep), ("model", LogisticRegression(C=0.5, max_iter=2000))])


def train(rows: int = 20_000, seed: int = 7) -> Pipeline:
    """The fitted demo model (`scoregate compile compiler.demo.model:train ...` calls this)."""
    df = generate(rows, seed=seed)
    return pipeline().fit(df[list(FEATURES)], df[LABEL])
