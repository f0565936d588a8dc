-- One row per customer: attributes and first purchase, without personal data.
with known as (
    select * from {{ ref('int_customers_known') }}
),

final as (
    select
        customer_id,
        signup_on,
        first_order_on,
        known_since,
        acquisition_channel,
        region,
        age_band,
        gender,
        is_derived
    from known
)

select * from final
