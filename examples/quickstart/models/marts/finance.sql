-- Finance marts. Completed orders count as revenue; returned orders are reported separately.

-- @name: daily_revenue
-- @schema: marts
-- @tags: [finance]
-- @description: "Revenue per day: orders, units, gross and net revenue, returns."
select
    order_date,
    count(*) filter (where status = 'completed') as orders,
    cast(sum(quantity) filter (where status = 'completed') as bigint) as units,
    sum(gross_amount) filter (where status = 'completed') as gross_revenue,
    sum(discount_amount) filter (where status = 'completed') as discounts,
    sum(net_amount) filter (where status = 'completed') as net_revenue,
    sum(net_amount) filter (where status = 'returned') as returned_amount,
    cast(avg(net_amount) filter (where status = 'completed') as decimal(12, 2)) as avg_order_value
from orders_enriched
group by order_date
order by order_date

-- @name: monthly_revenue_by_region
-- @schema: marts
-- @tags: [finance]
-- @description: Net revenue and active customers per month and sales region.
select
    cast(date_trunc('month', order_date) as date) as month,
    region,
    count(distinct customer_id) as active_customers,
    count(*) as orders,
    sum(net_amount) as net_revenue
from orders_enriched
where status = 'completed'
group by cast(date_trunc('month', order_date) as date), region
order by month, region
