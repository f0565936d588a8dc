with source as (
    select * from {{ source('shop', 'order_items') }}
),

renamed as (
    select
        order_item_id,
        order_id,
        product_id,
        coalesce(category, 'unknown') as category,
        coalesce(quantity, 1) as quantity,
        {{ money('unit_price') }} as unit_price
    from source
    qualify row_number() over (partition by order_item_id order by _load_id desc) = 1
)

select * from renamed
