with source as (
    select * from {{ source('shop', 'events') }}
),

renamed as (
    select
        event_id,
        customer_id,
        -- Without session ids, an hour of one customer's activity stands in for a session.
        event_at,
        event_type,
        category,
        -- DECIMAL so that summed dwell times are exact (see the money macro)
        cast(dwell_seconds as decimal(18, 3)) as dwell_seconds,
        rating,
        coalesce(session_id, customer_id || '@' || {{ hour_key('event_at') }}) as session_id,
        cast(event_at as date) as event_on
    from source
    qualify row_number() over (partition by event_id order by _load_id desc) = 1
)

select * from renamed
