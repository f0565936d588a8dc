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

-- The active weeks of each customer and cutoff as one list (in no particular order), and for
-- each of the weeks 0 to {{ weeks - 1 }} its position in it (0 when inactive): far cheaper than
-- joining every customer to a grid of all weeks. The arrays are made row by row after the join
-- with the spine, so no step holds them all at once (the 1M shop's 6.4M rows are 8 GB of them).
sparse as (
    select
        cutoff_date,
        customer_id,
        list(struct_pack(
            {%- for channel in channels %}
                {{ channel }} := {{ channel }},
            {%- endfor %}
            week := week
        )) as active
    from weekly
    group by cutoff_date, customer_id
),

-- The linter reads lambda parameters (e.week, k) as table references.
-- noqa: disable=RF01,RF02
joined as (
    select
        spine.customer_id,
        spine.cutoff_date,
        spine.cutoff_role,
        sparse.active,
        list_transform(sparse.active, lambda e: e.week) as active_weeks
    from spine
    left join sparse
        on spine.cutoff_date = sparse.cutoff_date and spine.customer_id = sparse.customer_id
),

positioned as (
    select
        *,
        list_transform(range({{ weeks }}), lambda i: coalesce(list_position(active_weeks, i), 0)) as week_positions
    from joined
),

zeros as (
    select list_resize([]::float[], {{ weeks }}, 0)::float[{{ weeks }}] as history
),

final as (
    select
        positioned.customer_id,
        positioned.cutoff_date,
        {%- for channel in channels %}
            case
                when positioned.active is null then zeros.history
                else list_transform(
                        positioned.week_positions, lambda k: coalesce(positioned.active[k].{{ channel }}, 0)
                    )::float[{{ weeks }}]
            end as {{ channel }}_weekly,
        {%- endfor %}
        positioned.cutoff_role
    from positioned
    cross join zeros
)

-- noqa: enable=RF01,RF02
select * from final
