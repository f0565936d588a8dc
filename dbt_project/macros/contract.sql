{#- Generated from udfs/contract.py by `make contract`: edit the contract there, not here. -#}

{#- One-hot encoded attributes: prefix -> the values that get a column; other values encode as zeros. -#}
{% macro contract_categories() %}{{ return({'channel': ['organic_search', 'paid_search', 'paid_social', 'email', 'referral', 'affiliate', 'direct'], 'region': ['Central Europe', 'Western Europe', 'UK and Ireland', 'Southern Europe', 'Nordics', 'Eastern Europe', 'North America'], 'age': ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'], 'gender': ['female', 'male', 'non_binary', 'undisclosed']}) }}{% endmacro %}

{#- Behaviour features: each metric over each trailing window of days. -#}
{% macro contract_behaviour_metrics() %}{{ return(['sessions', 'page_views', 'product_views', 'searches', 'add_to_carts', 'checkout_starts', 'cart_abandonment_rate', 'dwell_minutes', 'reviews', 'mean_rating', 'wishlist_adds']) }}{% endmacro %}
{% macro contract_behaviour_windows() %}{{ return([7, 30, 90]) }}{% endmacro %}

{#- Weekly histories: weeks per array, and the channels that get one (column <channel>_weekly). -#}
{% macro contract_sequence_weeks() %}{{ return(52) }}{% endmacro %}
{% macro contract_sequence_channels() %}{{ return(['orders', 'net_value', 'returns', 'sessions', 'product_views', 'add_to_carts']) }}{% endmacro %}
{% macro contract_sequence_columns() %}{{ return(['orders_weekly', 'net_value_weekly', 'returns_weekly', 'sessions_weekly', 'product_views_weekly', 'add_to_carts_weekly']) }}{% endmacro %}
