{#-
    Named RFM segment from the 1-5 recency (r), frequency (f) and monetary (m) scores.
    Rules apply in this order; the first that matches names the segment:
      Champions           r >= 4 and f >= 4 and m >= 4
      Can't Lose          r <= 2 and f >= 4 and m >= 4
      Loyal               r >= 3 and f >= 4
      At Risk             r <= 2 and f >= 3
      New                 r = 5 and f = 1
      Potential Loyalist  r >= 4 and f in (2, 3)
      Promising           r = 4 and f = 1
      Need Attention      r = 3
      Hibernating         r = 2
      Lost                otherwise (r = 1 and f <= 2)
-#}
{% macro rfm_segment(r, f, m) -%}
    case
        when {{ r }} >= 4 and {{ f }} >= 4 and {{ m }} >= 4 then 'Champions'
        when {{ r }} <= 2 and {{ f }} >= 4 and {{ m }} >= 4 then 'Can''t Lose'
        when {{ r }} >= 3 and {{ f }} >= 4 then 'Loyal'
        when {{ r }} <= 2 and {{ f }} >= 3 then 'At Risk'
        when {{ r }} = 5 and {{ f }} = 1 then 'New'
        when {{ r }} >= 4 and {{ f }} between 2 and 3 then 'Potential Loyalist'
        when {{ r }} = 4 and {{ f }} = 1 then 'Promising'
        when {{ r }} = 3 then 'Need Attention'
        when {{ r }} = 2 then 'Hibernating'
        else 'Lost'
    end
{%- endmacro %}
