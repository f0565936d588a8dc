-- One row per customer per cutoff being built, for customers with events in the 90 days up to
-- it, or with any event before it: behaviour in 7/30/90-day windows and the last session.
{%- set metrics = ['sessions', 'page_views', 'product_views', 'searches', 'add_to_carts',
                   'checkout_starts', 'wishlist_adds', 'reviews', 'rating_sum', 'dwell_seconds',
                   'cart_sessions'] %}
with cutoffs as (
    select * from {{ ref('int_cutoffs_to_build') }}
),

event_days as (
    select * from {{ ref('int_event_days') }}
),

spine as (
    select * from {{ ref('int_customers_at_cutoffs') }}
),

windowed as (
    select
        cutoffs.cutoff_date,
        event_days.*,
        {{ days_between('event_days.event_on', 'cutoffs.cutoff_date') }} as age_days
    from event_days
    inner join cutoffs
        on
            event_days.event_on <= cutoffs.cutoff_date
            and event_days.event_on > cutoffs.cutoff_date - {{ contract_behaviour_windows() | max }}
),

windows as (
    select
        cutoff_date,
        customer_id,
        {%- for w in contract_behaviour_windows() %}
            {%- for m in metrics %}
                sum({{ m }}) filter (where age_days < {{ w }}) as {{ m }}_{{ w }}d,
            {%- endfor %}
        {%- endfor %}
        sum(sessions) filter (where age_days >= 30 and age_days < 60) as sessions_prev_30d
    from windowed
    group by cutoff_date, customer_id
),

last_session as (
    -- Each customer's latest active day on or before the cutoff.
    {{ last_day_on_or_before('spine', 'event_days', 'event_on') | indent(4) }}
),

final as (
    select
        last_session.cutoff_date,
        last_session.customer_id,
        last_session.last_on as last_session_on,
        -- DuckDB's EXCLUDE takes bare column names, which sqlfluff reads as unqualified.
        {{ star_except('windows', ['cutoff_date', 'customer_id']) }}  -- noqa: RF02
    from last_session
    left join windows
        on last_session.cutoff_date = windows.cutoff_date and last_session.customer_id = windows.customer_id
)

select * from final
