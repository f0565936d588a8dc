{#- After a build, say plainly how many training cutoffs there are (none when history < horizon). -#}
{% macro report_training_cutoffs() %}
    {% if execute %}
        {% set rel = adapter.get_relation(database=target.database, schema='intermediate', identifier='int_cutoffs') %}
        {% if rel is not none %}
            {% set rows = run_query("select count(*) filter (where cutoff_role = 'training'), min(cutoff_date) filter (where cutoff_role = 'scoring') from " ~ rel).rows %}
            {% if rows[0][0] == 0 %}
                {{ log("No training cutoffs: the history is shorter than horizon_days=" ~ var('horizon_days') ~ " plus a day, so only the scoring cutoff " ~ rows[0][1] ~ " was built. Training will fit the BG/NBD baseline alone.", info=True) }}
            {% else %}
                {{ log(rows[0][0] ~ " training cutoff(s) and scoring cutoff " ~ rows[0][1] ~ " built.", info=True) }}
            {% endif %}
        {% endif %}
    {% endif %}
{% endmacro %}
