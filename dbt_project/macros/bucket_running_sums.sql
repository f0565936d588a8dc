{#-
    int_btyd_summary_at_cutoffs' running sums: a SELECT of (cutoff_date, customer_id,
    first_purchase_on, first_day_amount, purchase_days, orders, amount, net_amount,
    last_purchase_on) for every cutoff of `cutoffs` on or after a customer's first purchase
    bucket, summing the customer's `buckets` (customer_id, bucket, purchase_days, orders, amount,
    net_amount, first_purchase_on, last_purchase_on, first_day_amount) up to the cutoff.
-#}
{% macro bucket_running_sums(buckets, cutoffs) -%}
    {{ return(adapter.dispatch('bucket_running_sums', 'clv')(buckets, cutoffs)) }}
{%- endmacro %}

{#- DuckDB: each customer keeps its few buckets in one list, filtered and summed per cutoff. -#}
{% macro default__bucket_running_sums(buckets, cutoffs) -%}
    -- sqlfluff reads the fields of lambda parameters (b.days) as table references.
    -- noqa: disable=RF01,RF03
    select
        cutoff_date,
        customer_id,
        first_purchase_on,
        first_day_amount,
        list_sum(list_transform(seen, lambda b: b.days)) as purchase_days,
        list_sum(list_transform(seen, lambda b: b.orders)) as orders,
        list_sum(list_transform(seen, lambda b: b.amount)) as amount,
        list_sum(list_transform(seen, lambda b: b.net)) as net_amount,
        list_max(list_transform(seen, lambda b: b.last_on)) as last_purchase_on
    from (
        select
            {{ cutoffs }}.cutoff_date,
            customer_buckets.customer_id,
            customer_buckets.first_purchase_on,
            customer_buckets.first_day_amount,
            list_filter(customer_buckets.buckets, lambda b: b.bucket <= {{ cutoffs }}.cutoff_date) as seen
        from (
            select
                customer_id,
                list({
                    'bucket': bucket, 'days': purchase_days, 'orders': orders, 'amount': amount,
                    'net': net_amount, 'last_on': last_purchase_on
                }) as buckets,
                {{ first_bucket_columns() | indent(16) }}
            from {{ buckets }}
            group by customer_id
        ) as customer_buckets
        inner join {{ cutoffs }} on customer_buckets.first_bucket <= {{ cutoffs }}.cutoff_date
    ) as expanded
    -- noqa: enable=RF01,RF03
{%- endmacro %}

{#- Spark: a join of each customer's buckets to the cutoffs after them, summed (a customer has a
    bucket per cutoff at most, so the join stays within buckets x cutoffs). -#}
{% macro spark__bucket_running_sums(buckets, cutoffs) -%}
    select
        {{ cutoffs }}.cutoff_date,
        firsts.customer_id,
        firsts.first_purchase_on,
        firsts.first_day_amount,
        sum(seen.purchase_days) as purchase_days,
        sum(seen.orders) as orders,
        sum(seen.amount) as amount,
        sum(seen.net_amount) as net_amount,
        max(seen.last_purchase_on) as last_purchase_on
    from (
        select
            customer_id,
            {{ first_bucket_columns() | indent(12) }}
        from {{ buckets }}
        group by customer_id
    ) as firsts
    inner join {{ cutoffs }} on firsts.first_bucket <= {{ cutoffs }}.cutoff_date
    inner join {{ buckets }} as seen
        on firsts.customer_id = seen.customer_id and seen.bucket <= {{ cutoffs }}.cutoff_date
    group by {{ cutoffs }}.cutoff_date, firsts.customer_id, firsts.first_purchase_on, firsts.first_day_amount
{%- endmacro %}

{#- Per customer, from its buckets: the first with a purchase, the first purchase day and its amount. -#}
{% macro first_bucket_columns() -%}
    min(bucket) filter (where purchase_days > 0) as first_bucket,
    min(first_purchase_on) as first_purchase_on,
    min_by(first_day_amount, first_purchase_on) as first_day_amount
{%- endmacro %}
