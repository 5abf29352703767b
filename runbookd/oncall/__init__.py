"""On-call schedules: who is on call at an instant, as a pure function of the schedule files.

``model`` is the YAML language (strict pydantic), ``loader`` turns files into checked schedules
with ``PATH:LINE:COL`` diagnostics, ``wallclock`` maps local times to instants, ``rotation`` and
``resolve`` compute who is on call (layers, restrictions, overrides), ``ical`` exports shifts as
RFC 5545. Nothing here reads the clock: every answer takes the instant it is asked about, so the
engine's clock (and a replay's virtual one) gives the same person for the same moment.
"""
