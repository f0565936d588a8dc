-- Every customer known on a cutoff day has exactly one feature row for that cutoff.
with features as (
    select * from {{ ref('fct_customer_features') }}
),

known as (
    select * from {{ ref('int_customers_known') }}
),

cutoffs as (
    select * from {{ ref('int_cutoffs') }}
),

expected as (
    select
        cutoffs.cutoff_date,
        count(*) as customers
    from known
    inner join cutoffs on known.known_since <= cutoffs.cutoff_date
    group by cutoffs.cutoff_date
),

actual as (
    select
        cutoff_date,
        count(*) as customers
    from features
    group by cutoff_date
)

select
    expected.cutoff_date,
    expected.customers as expected_customers,
    actual.customers as actual_customers
from expected
full outer join actual on expected.cutoff_date = actual.cutoff_date
where expected.customers is distinct from actual.customers
