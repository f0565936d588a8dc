-- Campaign sends: which action each customer was sent, when, at what cost. A database loaded
-- before campaigns existed has no raw.campaigns; the view is then empty, like a shop without a
-- campaign history.
{%- set source_relation = source('shop', 'campaigns') %}
{%- set present = adapter.get_relation(
    database=source_relation.database, schema=source_relation.schema, identifier=source_relation.identifier
) if execute else none %}
{% if present is not none %}
    with source as (
        select * from {{ source_relation }}
    ),

    renamed as (
        select
            treatment_id,
            campaign_id,
            customer_id,
            sent_at,
            cast(sent_at as date) as sent_on,
            action,
            {{ money('coalesce(cost, 0)') }} as cost
        from source
        qualify row_number() over (partition by treatment_id order by _load_id desc) = 1
    )

    select * from renamed
{% else %}
    select
        cast(null as string) as treatment_id,
        cast(null as string) as campaign_id,
        cast(null as string) as customer_id,
        cast(null as timestamp) as sent_at,
        cast(null as date) as sent_on,
        cast(null as string) as action,
        {{ money('null') }} as cost
    where false
{% endif %}
