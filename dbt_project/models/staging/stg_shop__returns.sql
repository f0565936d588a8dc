with source as (
    select * from {{ source('shop', 'returns') }}
),

renamed as (
    select
        return_id,
        order_id,
        returned_at,
        cast(returned_at as date) as returned_on,
        {{ money('refund_amount') }} as refund_amount
    from source
    qualify row_number() over (partition by return_id order by _load_id desc) = 1
)

select * from renamed
