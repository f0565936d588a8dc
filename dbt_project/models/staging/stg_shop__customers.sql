-- One row per customer, without personal data (name, email, phone, address stay in raw).
with source as (
    select * from {{ source('shop', 'customers') }}
),

renamed as (
    select
        customer_id,
        cast(signup_at as date) as signup_on,
        country,
        region,
        age_band,
        gender,
        acquisition_channel,
        _derived as is_derived
    from source
    qualify row_number() over (partition by customer_id order by _load_id desc) = 1
)

select * from renamed
