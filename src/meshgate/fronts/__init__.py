"""Fronts turn their input into RequestAttributes and a Decision into their output; no policy logic here."""
