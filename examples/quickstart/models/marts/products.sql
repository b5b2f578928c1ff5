-- @name: product_performance
-- @schema: marts
-- @tags: [products]
-- @description: Units, revenue and return rate per product, ranked within its category.
-- Reads the ephemeral int_order_lines, which Interlace inlines here as a CTE.
select
    p.product_id,
    p.sku,
    p.product_name,
    p.category,
    coalesce(cast(sum(l.quantity) filter (where l.status = 'completed') as bigint), 0) as units_sold,
    coalesce(sum(l.net_amount) filter (where l.status = 'completed'), 0) as net_revenue,
    round(avg(case when l.status = 'returned' then 1 else 0 end), 4) as return_rate,
    rank() over (
        partition by p.category
        order by coalesce(sum(l.net_amount) filter (where l.status = 'completed'), 0) desc
    ) as rank_in_category
from stg_products as p
left join int_order_lines as l on l.product_id = p.product_id
group by p.product_id, p.sku, p.product_name, p.category
order by p.category, rank_in_category
