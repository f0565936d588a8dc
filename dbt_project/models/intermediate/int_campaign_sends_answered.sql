-- One row per campaign send (action other than 'none'), with whether the customer ordered within
-- response_window_days of it: the visible trace of how a customer responds to each action.
{%- set window = var('response_window_days') %}
with sends as (
    select * from {{ ref('stg_shop__campaigns') }}
    where action <> 'none'
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

answered as (
    select
        sends.treatment_id,
        min(orders.ordered_on) as answered_on
    from sends
    inner join orders
        on
            sends.customer_id = orders.customer_id
            and sends.sent_at <= orders.ordered_at
            and sends.sent_on + {{ window }} > orders.ordered_on
    group by sends.treatment_id
),

final as (
    select
        sends.treatment_id,
        sends.customer_id,
        sends.sent_on,
        sends.action,
        sends.cost,
        answered.answered_on
    from sends
    left join answered on sends.treatment_id = answered.treatment_id
)

select * from final
