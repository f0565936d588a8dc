-- One row per customer per cutoff (the grain of fct_customer_features): the last
-- contract_sequence_weeks() weeks before the cutoff as one fixed-size FLOAT array per channel,
-- oldest week first. The last week ends on the cutoff day (days 0-6 before it), the one before
-- it covers days 7-13, and so on, so only data on or before the cutoff day is read. Channels:
-- orders placed, net value (amounts paid minus refunds, each on its own day), returns, sessions,
-- product views and add-to-carts. Incremental like fct_customer_features, but on its own record
-- of which cutoffs it holds.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='cutoff_date',
        on_schema_change='fail',
        post_hook="delete from {{ this }} where cutoff_date not in (select cutoff_date from {{ ref('int_cutoffs') }})"
    )
}}
{%- set weeks = contract_sequence_weeks() %}
{%- set channels = contract_sequence_channels() %}
with all_cutoffs as (
    select * from {{ ref('int_cutoffs') }}
),

cutoffs as (
    select
        cutoff_date,
        cutoff_role
    from all_cutoffs
    {% if is_incremental() %}
        where
            cutoff_role = 'scoring'
            or (cutoff_date, cutoff_role) not in (
                select distinct (built.cutoff_date, built.cutoff_role) from {{ this }} as built
            )
    {% endif %}
),

known as (
    select * from {{ ref('int_customers_known') }}
),

order_days as (
    select * from {{ ref('int_order_days') }}
),

event_days as (
    select * from {{ ref('int_event_days') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

returns as (
    select * from {{ ref('stg_shop__returns') }}
),

spine as (
    select
        cutoffs.cutoff_date,
        cutoffs.cutoff_role,
        known.customer_id
    from known
    inner join cutoffs on known.known_since <= cutoffs.cutoff_date
),

return_days as (
    select
        orders.customer_id,
        returns.returned_on,
        count(*) as day_returns,
        sum(returns.refund_amount) as day_refunds
    from returns
    inner join orders on returns.order_id = orders.order_id
    group by orders.customer_id, returns.returned_on
),

-- Every day with activity, one row per source; the channels are summed per week below.
activity as (
    select
        customer_id,
        ordered_on as activity_on,
        day_orders as orders,
        day_amount as net_value,
        0 as returns,
        0 as sessions,
        0 as product_views,
        0 as add_to_carts
    from order_days
    union all
    select
        customer_id,
        returned_on as activity_on,
        0 as orders,
        -day_refunds as net_value,
        day_returns as returns,
        0 as sessions,
        0 as product_views,
        0 as add_to_carts
    from return_days
    union all
    select
        customer_id,
        event_on as activity_on,
        0 as orders,
        0 as net_value,
        0 as returns,
        sessions,
        product_views,
        add_to_carts
    from event_days
),

weekly as (
    select
        cutoffs.cutoff_date,
        activity.customer_id,
        {%- for channel in channels %}
            sum(activity.{{ channel }}) as {{ channel }},
        {%- endfor %}
        -- 0 is the oldest week, {{ weeks - 1 }} the week ending on the cutoff day.
        {{ weeks - 1 }} - {{ days_between('activity.activity_on', 'cutoffs.cutoff_date') }} // 7 as week
    from activity
    inner join cutoffs
        on
            activity.activity_on <= cutoffs.cutoff_date
            and activity.activity_on > cutoffs.cutoff_date - {{ weeks * 7 }}
    group by all
),

-- The active weeks of each customer and cutoff as lists, and for each of the weeks 0 to
-- {{ weeks - 1 }} its position in them (NULL when inactive): far cheaper than joining every
-- customer to a grid of all weeks. Customers with no activity in the window get zeros below.
sparse as (
    select
        cutoff_date,
        customer_id,
        {%- for channel in channels %}
            list({{ channel }} order by week) as {{ channel }},
        {%- endfor %}
        list(week order by week) as weeks
    from weekly
    group by cutoff_date, customer_id
),

positioned as (
    select
        *,
        list_transform(range({{ weeks }}), lambda i: list_position(weeks, i)) as week_positions
    from sparse
),

dense as (
    select
        {%- for channel in channels %}
            list_transform(
                week_positions, lambda k: coalesce({{ channel }}[k], 0)
            )::float[{{ weeks }}] as {{ channel }}_weekly,
        {%- endfor %}
        cutoff_date,
        customer_id
    from positioned
),

zeros as (
    select list_resize([]::float[], {{ weeks }}, 0)::float[{{ weeks }}] as history
),

final as (
    select
        spine.customer_id,
        spine.cutoff_date,
        {%- for channel in channels %}
            coalesce(dense.{{ channel }}_weekly, zeros.history) as {{ channel }}_weekly,
        {%- endfor %}
        spine.cutoff_role
    from spine
    left join dense
        on spine.cutoff_date = dense.cutoff_date and spine.customer_id = dense.customer_id
    cross join zeros
)

select * from final
