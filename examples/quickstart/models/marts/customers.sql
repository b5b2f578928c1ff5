-- @name: customer_lifetime_value
-- @schema: marts
-- @tags: [customers, finance]
-- @description: "Per customer: first and last order, order count, net revenue, value segment."
with per_customer as (
    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as orders,
        sum(net_amount) as net_revenue
    from orders_enriched
    where status = 'completed'
    group by customer_id
)
select
    c.customer_id,
    c.first_name || ' ' || c.last_name as customer_name,
    c.customer_type,
    c.country_code,
    p.first_order_date,
    p.last_order_date,
    p.orders,
    p.net_revenue,
    case
        when p.net_revenue >= 2000 then 'gold'
        when p.net_revenue >= 500 then 'silver'
        else 'bronze'
    end as segment
from stg_customers as c
join per_customer as p on p.customer_id = c.customer_id
order by p.net_revenue desc
