"""The dataset summary report ("report" stage).

- :mod:`~vidlab.analytics.summary`: counts, cross-tabs and quality checks as a plain dict.
- :mod:`~vidlab.analytics.render`: that dict as the researchers' text report, Markdown or JSON.
- :mod:`~vidlab.analytics.plots`: PNG bar charts and the age-group × domain heatmap.
- :mod:`~vidlab.analytics.report`: the stage's ``run()``, reading the CSVs and writing the files.
"""
