-- @name: product_views
-- @schema: marts
-- @tags: [streams, products]
-- @description: Live product interest from the page_views stream, per product.
select
    p.product_id,
    p.product_name,
    p.category,
    count(*) as views,
    count(distinct v.session_id) as sessions,
    max(v.viewed_at) as last_viewed_at
from stg_page_views as v
join stg_products as p on p.product_id = v.product_id
group by p.product_id, p.product_name, p.category
order by views desc, p.product_id
