"""The pages managers and SREs read in a browser: incidents, timelines, post-mortems, reports.

``routes.web_router`` mounts them; ``queries`` and ``reports`` read the store (aggregates in
SQL); ``svg`` and ``timeline`` draw the charts on the server; ``csrf`` guards every form.
"""
