"""Cosmology engine: plasma thermodynamics (:mod:`bkdm.cosmo.thermo`) and thermal averages
(:mod:`bkdm.cosmo.averages`). Units: GeV (natural units)."""
