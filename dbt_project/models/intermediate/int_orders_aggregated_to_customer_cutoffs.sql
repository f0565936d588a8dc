-- One row per customer per cutoff being built, for customers with an order on or before it:
-- order features beyond the BTYD summary (int_btyd_summary_at_cutoffs): value spread, returns,
-- discounts, recent windows, intervals, breadth. Refunds count only once returned by the cutoff.
with cutoffs as (
    select * from {{ ref('int_cutoffs_to_build') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

returns as (
    select * from {{ ref('stg_shop__returns') }}
),

order_days as (
    select * from {{ ref('int_order_days') }}
),

categories as (
    select * from {{ ref('int_customer_categories') }}
),

refunds_by_cutoff as (
    select
        cutoffs.cutoff_date,
        returns.order_id,
        sum(returns.refund_amount) as refunded
    from returns
    inner join cutoffs on returns.returned_on <= cutoffs.cutoff_date
    group by cutoffs.cutoff_date, returns.order_id
),

orders_by_cutoff as (
    select
        cutoffs.cutoff_date,
        orders.customer_id,
        orders.ordered_on,
        orders.amount,
        orders.discount,
        orders.amount - least(coalesce(refunds.refunded, 0), orders.amount) as net_value,
        refunds.order_id is not null as is_returned,
        {{ days_between('orders.ordered_on', 'cutoffs.cutoff_date') }} as age_days
    from orders
    inner join cutoffs on orders.ordered_on <= cutoffs.cutoff_date
    left join refunds_by_cutoff as refunds
        on cutoffs.cutoff_date = refunds.cutoff_date and orders.order_id = refunds.order_id
),

order_stats as (
    select
        cutoff_date,
        customer_id,
        cast(sum(net_value) as double) / count(*) as mean_value_net,
        max(net_value) as max_value_net,
        coalesce({{ exact_stddev('net_value') }}, 0) as std_value_net,
        count(*) filter (where is_returned) / count(*) as return_rate,
        coalesce(cast(sum(discount) as double) / nullif(cast(sum(amount + discount) as double), 0), 0)
            as discount_share,
        {%- for w in [7, 30, 90, 180, 365] %}
            count(*) filter (where age_days < {{ w }}) as orders_{{ w }}d,
            coalesce(sum(net_value) filter (where age_days < {{ w }}), 0) as value_{{ w }}d,
        {%- endfor %}
        coalesce(sum(net_value) filter (where age_days >= 90 and age_days < 180), 0) as value_prev_90d,
        coalesce(
            cast(sum(amount) filter (where month(ordered_on) in (11, 12)) as double)
            / nullif(cast(sum(amount) as double), 0),
            0
        ) as holiday_spend_share
    from orders_by_cutoff
    group by cutoff_date, customer_id
),

gaps as (
    select
        customer_id,
        ordered_on,
        {{ days_between('lag(ordered_on) over (partition by customer_id order by ordered_on)', 'ordered_on') }}
            as gap_days
    from order_days
),

intervals as (
    select
        cutoffs.cutoff_date,
        gaps.customer_id,
        -- the first purchase day has no gap, so this is over repeat purchases only
        coalesce({{ exact_stddev('gaps.gap_days') }}, 0) as interpurchase_std_days
    from gaps
    inner join cutoffs on gaps.ordered_on <= cutoffs.cutoff_date
    group by cutoffs.cutoff_date, gaps.customer_id
),

breadth as (
    select
        cutoffs.cutoff_date,
        categories.customer_id,
        count(*) as category_breadth
    from categories
    inner join cutoffs on categories.first_bought_on <= cutoffs.cutoff_date
    group by cutoffs.cutoff_date, categories.customer_id
),

final as (
    select
        -- DuckDB's EXCLUDE takes bare column names, which sqlfluff reads as unqualified.
        {{ star_except('order_stats', ['value_prev_90d']) }},  -- noqa: RF02
        intervals.interpurchase_std_days,
        coalesce(
            cast(order_stats.value_90d - order_stats.value_prev_90d as double)
            / nullif(cast(abs(order_stats.value_90d) + abs(order_stats.value_prev_90d) as double), 0),
            0
        ) as spend_trend_90d,
        coalesce(breadth.category_breadth, 0) as category_breadth
    from order_stats
    inner join intervals
        on order_stats.cutoff_date = intervals.cutoff_date and order_stats.customer_id = intervals.customer_id
    left join breadth
        on order_stats.cutoff_date = breadth.cutoff_date and order_stats.customer_id = breadth.customer_id
)

select * from final
