-- One row per customer per cutoff being built: every customer known on the cutoff day
-- (signed up or first ordered on or before it), with the attributes the models use.
with cutoffs as (
    select * from {{ ref('int_cutoffs_to_build') }}
),

known as (
    select * from {{ ref('int_customers_known') }}
),

final as (
    select
        cutoffs.cutoff_date,
        cutoffs.cutoff_role,
        known.customer_id,
        known.signup_on,
        known.first_order_on,
        known.known_since,
        known.acquisition_channel,
        known.region,
        known.age_band,
        known.gender,
        {{ days_between('known.known_since', 'cutoffs.cutoff_date') }} as tenure_days
    from known
    inner join cutoffs on known.known_since <= cutoffs.cutoff_date
)

select * from final
