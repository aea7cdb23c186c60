"""The surge view in Locust's web UI: the schedule, live open-model numbers, the verdict.

`plugin` hooks it into Locust (the engine imports it); `access` decides who may reach
the UI and imports nothing from Locust, so ``surge run`` can refuse an unprotected
bind before any process starts; `live` builds the JSON the page polls; `report`
builds the run's report for the page to link.
"""
