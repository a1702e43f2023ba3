"""The dataset summary report ("report" stage).

- :mod:`~vidlab.stages.report.summary`: counts, cross-tabs and quality checks as a plain dict.
- :mod:`~vidlab.stages.report.render`: that dict as the researchers' text report, Markdown or JSON.
- :mod:`~vidlab.stages.report.plots`: PNG bar charts and the age-group × domain heatmap.
- :mod:`~vidlab.stages.report.stage`: the stage's ``run()``, reading the CSVs and writing the files.
"""
