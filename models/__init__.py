"""The model bundle: per-threat LightGBM boosters, calibration, lanes, SHAP reasons, safe save/load."""
