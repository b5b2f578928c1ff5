-- Two models in one file: each starts with its own `-- @name:` line.

-- @name: stg_countries
-- @schema: staging
-- @tags: [staging]
-- @description: Countries and the sales region they belong to.
select country_code, country_name, region, currency
from raw.countries

-- @name: stg_products
-- @schema: staging
-- @tags: [staging]
-- @description: The product catalogue with prices in currency units instead of cents.
select
    product_id,
    sku,
    product_name,
    category,
    cast(price_cents / 100.0 as decimal(10, 2)) as unit_price
from raw.products
