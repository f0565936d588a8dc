with source as (
    select * from {{ source('shop', 'orders') }}
),

renamed as (
    select
        order_id,
        customer_id,
        ordered_at,
        cast(ordered_at as date) as ordered_on,
        {{ money('amount') }} as amount,
        {{ money('coalesce(discount, 0)') }} as discount,
        currency
    from source
    qualify row_number() over (partition by order_id order by _load_id desc) = 1
)

select * from renamed
